import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServicePrincipal } from '../../src/core/config';
import { createCredentialFactory } from '../../src/core/azure';
import { startOwnAuthority } from '../support/own-authority';
import type { OwnAuthority } from '../support/own-authority';

// Each kind of SP credential signs in to an Entra ID authority of this file's own (the sandbox's),
// which checks what Entra ID checks: the secret, the certificate's signature, the federated subject.
const DATABRICKS = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const SCOPE = `${DATABRICKS}/.default`;
const IDENTITY_CLIENT = randomUUID();
const IDENTITY_OBJECT = randomUUID();

let own: OwnAuthority;
let certDir: string;
let pem: { key: string; cert: string };
const identityScopes: string[] = [];
/** The app's managed identity: a real token of the authority, for the scope asked. */
const appCredential: TokenCredential = {
  getToken: async (scope): Promise<AccessToken> => {
    identityScopes.push(String(scope));
    return { token: await own.authority.issueAccessToken(IDENTITY_CLIENT, String(scope)), expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};
const factory = () => createCredentialFactory({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, appCredential });
const sp = (clientId: string, credential: ServicePrincipal['credential']): ServicePrincipal => ({ name: 'kind-sp', clientId, credential, federationScope: SCOPE });

beforeAll(async () => {
  own = await startOwnAuthority();
  own.authority.registerClient(IDENTITY_CLIENT, { objectId: IDENTITY_OBJECT });
  // An RSA key and self-signed certificate, as an operator would import into Key Vault (PEM).
  certDir = await mkdtemp(join(tmpdir(), 'dbx-vend-sp-cert-'));
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'sp.key', '-out', 'sp.pem', '-days', '1', '-subj', '/CN=kind-sp'], { cwd: certDir, timeout: 20_000 });
  pem = { key: await readFile(join(certDir, 'sp.key'), 'utf8'), cert: await readFile(join(certDir, 'sp.pem'), 'utf8') };
}, 60_000);
afterAll(async () => {
  await own?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe('createCredentialFactory: each kind signs in to Entra ID', () => {
  it('a secret or certificate SP without material is a bug the log names', () => {
    for (const credential of [{ kind: 'secret', name: 'n' }, { kind: 'certificate', name: 'n' }] as const) {
      expect(() => factory()(sp(randomUUID(), credential), undefined)).toThrow(new TypeError('credential material is required for secret and certificate service principals'));
    }
  });

  it('a certificate SP signs its client assertion with the key and sends the certificate chain (x5c)', async () => {
    const clientId = randomUUID();
    own.authority.registerClient(clientId, { certificates: [pem.cert] });
    const credential = factory()(sp(clientId, { kind: 'certificate', name: 'kind-sp-cert' }), { value: pem.key + pem.cert, version: '1', contentType: 'application/x-pem-file' });
    const token = await credential.getToken(SCOPE);
    expect(decodeJwt(token?.token ?? '').appid).toBe(clientId);
    const assertions = own.authority.credentials.all().filter((v) => v.startsWith('eyJ') && decodeJwt(v).iss === clientId);
    expect(assertions).toHaveLength(1);
    const header = decodeProtectedHeader(assertions[0] ?? '');
    const der = pem.cert.replace(/-----[A-Z ]+-----|\s/g, '');
    expect(header.x5c).toEqual([der]);
  });

  it("a federated SP's client assertion is the app identity's api://AzureADTokenExchange token", async () => {
    const clientId = randomUUID();
    own.authority.registerClient(clientId, { federatedSubjects: [IDENTITY_OBJECT] });
    identityScopes.length = 0;
    const token = await factory()(sp(clientId, { kind: 'federated' }), undefined).getToken(SCOPE);
    expect(decodeJwt(token?.token ?? '').appid).toBe(clientId);
    expect(new Set(identityScopes)).toEqual(new Set(['api://AzureADTokenExchange/.default']));
  });

  it('a federated SP whose app identity returns no token gets none, saying which token was missing', async () => {
    const clientId = randomUUID();
    own.authority.registerClient(clientId, { federatedSubjects: [IDENTITY_OBJECT] });
    const silent: TokenCredential = { getToken: () => Promise.resolve(null) };
    const credential = createCredentialFactory({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, appCredential: silent })(sp(clientId, { kind: 'federated' }), undefined);
    await expect(credential.getToken(SCOPE)).rejects.toThrow('the app identity returned no token for api://AzureADTokenExchange');
  });
});
