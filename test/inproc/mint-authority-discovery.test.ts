import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServicePrincipal } from '../../src/core/config';
import { createCredentialFactory } from '../../src/core/azure';
import { AuthorityMetadataCache } from '../../src/core/mint/authority-metadata-cache';
import { startOwnAuthority } from '../support/own-authority';
import type { OwnAuthority } from '../support/own-authority';

// MSAL discovers a non-listed authority (this local one, Azure Stack Hub) per credential before its
// first token; with the shared cache the app discovers it once, whatever the number of SPs.
const SCOPE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default';
const DISCOVERY = /\/v2\.0\/\.well-known\/openid-configuration$/;
const TOKEN = /\/oauth2\/v2\.0\/token$/;

let own: OwnAuthority;
const appCredential: TokenCredential = { getToken: (): Promise<AccessToken | null> => Promise.resolve(null) };

beforeAll(async () => {
  own = await startOwnAuthority();
}, 60_000);
afterAll(async () => {
  await own?.stop();
});

/** `count` secret SPs, each signing in once through its own credential from one factory. */
async function signInEach(count: number, authorityMetadata?: AuthorityMetadataCache): Promise<{ discoveries: number; tokens: number }> {
  own.authority.faults.resetRequests();
  const factory = createCredentialFactory({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, appCredential, ...(authorityMetadata ? { authorityMetadata } : {}) });
  const sps = Array.from({ length: count }, () => {
    const clientId = randomUUID();
    const secret = randomUUID();
    own.authority.registerClient(clientId, { secrets: [secret] });
    const sp: ServicePrincipal = { name: `sp-${clientId}`, clientId, credential: { kind: 'secret', name: 'n' }, federationScope: SCOPE };
    return factory(sp, { value: secret, version: '1', contentType: undefined });
  });
  const tokens = await Promise.all(sps.map((c) => c.getToken(SCOPE)));
  expect(tokens.every((t) => typeof t?.token === 'string' && t.token.length > 0)).toBe(true);
  return { discoveries: own.authority.faults.requests(DISCOVERY), tokens: own.authority.faults.requests(TOKEN) };
}

describe('authority discovery shared by the app\'s credentials', () => {
  it('without the shared cache, each SP\'s credential discovers the authority before its token', async () => {
    expect(await signInEach(3)).toEqual({ discoveries: 3, tokens: 3 });
  });

  it('with it, three SPs signing in (one after another, then at once) discover the authority once', async () => {
    const metadata = new AuthorityMetadataCache();
    expect(await signInEach(1, metadata)).toEqual({ discoveries: 1, tokens: 1 });
    expect(await signInEach(3, metadata)).toEqual({ discoveries: 0, tokens: 3 });
  });
});
