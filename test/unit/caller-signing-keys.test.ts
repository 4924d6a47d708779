import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SigningKeyStore, VerifiedTokenCache, verifyCaller } from '../../src/core/caller';
import type { CallerPolicy } from '../../src/core/caller';
import { InvalidTokenError, UpstreamUnavailableError } from '../../src/core/errors';
import { rejection } from '../support/rejection';

// The signing key store's promises to the caller check: what it accepts from the authority, when
// it refreshes, and what start-up does ahead of the first caller.
const TENANT = '11111111-2222-3333-4444-555555555555';
const AUTHORITY = 'https://login.example.test';
const DISCOVERY = `${AUTHORITY}/${TENANT}/v2.0/.well-known/openid-configuration`;
const JWKS_URI = `${AUTHORITY}/${TENANT}/discovery/v2.0/keys`;
const MOVED = `${AUTHORITY}/moved/openid-configuration`;
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const MAX_AGE_MS = 6 * 3600_000;
const COOLDOWN_MS = 5 * 60_000;
const policy: CallerPolicy = { audiences: ['api://vend'], allowedTenants: [TENANT], v1IssuerBase: 'https://sts.windows.net/', v2IssuerHost: AUTHORITY };

let signingKey: CryptoKey;
let publicJwk: JWK;
let ecJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  publicJwk = await exportJWK(pair.publicKey);
  ecJwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
});

afterEach(() => vi.restoreAllMocks());

interface Answer {
  readonly status?: number;
  readonly body: unknown;
  readonly location?: string;
}

/** A fake authority behind an injected fetch that follows redirects unless told `redirect: 'error'`, as fetch does. */
function authority(answers: { discovery?: () => Answer; keys: () => Answer }) {
  const seen: { url: string; init: RequestInit | undefined }[] = [];
  const routes = new Map<string, () => Answer>([
    [DISCOVERY, answers.discovery ?? (() => ({ body: { jwks_uri: JWKS_URI } }))],
    [JWKS_URI, answers.keys],
    // Where a redirect points: a well-formed discovery document, so only refusing the redirect refuses it.
    [MOVED, () => ({ body: { jwks_uri: JWKS_URI } })],
  ]);
  const fetchFn = ((url: string, init?: RequestInit) => {
    seen.push({ url, init });
    let answer: Answer = (routes.get(url) ?? (() => ({ status: 404, body: {} })))();
    if (answer.location !== undefined) {
      if (init?.redirect === 'error') return Promise.reject(new TypeError('fetch failed: redirect mode is set to error'));
      answer = (routes.get(answer.location) as () => Answer)();
    }
    return Promise.resolve(Response.json(answer.body, { status: answer.status ?? 200 }));
  }) as typeof fetch;
  return { seen, fetchFn };
}

function setup(answers: Parameters<typeof authority>[0]) {
  const clock = { at: NOW, now: () => clock.at };
  const { seen, fetchFn } = authority(answers);
  const keys = new SigningKeyStore({ discoveryUrl: DISCOVERY, fetch: fetchFn, clock });
  const verified = new VerifiedTokenCache();
  const run = (token: string) => verifyCaller(`Bearer ${token}`, { keys, policy, clock, verified });
  return { clock, seen, keys, verified, run };
}

function sign(kid: string, at = NOW): Promise<string> {
  const claims = { aud: 'api://vend', iss: `${AUTHORITY}/${TENANT}/v2.0`, tid: TENANT, oid: 'oid-1', azp: 'app-1', iat: at / 1000, exp: at / 1000 + 12 * 3600 };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(signingKey);
}

const keySet = (...kids: string[]) => ({ keys: kids.map((kid) => ({ ...publicJwk, kid })) });

describe('SigningKeyStore: what it takes from the authority', () => {
  // The cause, kept for the operator's log, says which answer was refused.
  it.each<[string, Answer, RegExp]>([
    ['a discovery document answered with HTTP 500', { status: 500, body: { jwks_uri: JWKS_URI } }, /^signing key request failed with HTTP 500$/],
    ['a jwks_uri that is not https', { body: { jwks_uri: 'http://login.example.test/keys' } }, /^discovery document has no https jwks_uri$/],
    ['a discovery document without a jwks_uri', { body: { issuer: AUTHORITY } }, /^discovery document has no https jwks_uri$/],
    ['a jwks_uri that is not a string', { body: { jwks_uri: 42 } }, /^discovery document has no https jwks_uri$/],
    ['a redirect instead of the discovery document', { status: 302, body: {}, location: MOVED }, /redirect/],
  ])('refuses %s: 503, no caller is checked', async (_name, answer, cause) => {
    const { run, seen } = setup({ discovery: () => answer, keys: () => ({ body: keySet('k1') }) });
    const err = await rejection(run(await sign('k1')));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.message).toMatch(/signing keys of Entra ID are unavailable/);
    expect((err.cause as Error).message).toMatch(cause);
    expect(seen.map((s) => s.url)).toEqual([DISCOVERY]);
  });

  it('refuses a key set answered with HTTP 500, an empty key set and a malformed one, and keeps the last good set', async () => {
    let answer: Answer = { status: 500, body: keySet('k1') };
    const { run, clock } = setup({ keys: () => answer });
    const token = await sign('k1');
    expect(await rejection(run(token))).toBeInstanceOf(UpstreamUnavailableError);
    answer = { body: { keys: [] } };
    const empty = await rejection(run(token));
    expect(empty).toBeInstanceOf(UpstreamUnavailableError);
    expect((empty.cause as Error).message).toBe('empty key set');
    answer = { body: { keys: 'k1' } };
    expect(await rejection(run(token))).toBeInstanceOf(UpstreamUnavailableError);
    answer = { body: keySet('k1') };
    await expect(run(token)).resolves.toMatchObject({ objectId: 'oid-1' });
    // Past the maximum age, a refresh that brings an empty set does not replace the good one.
    answer = { body: { keys: [] } };
    clock.at = NOW + MAX_AGE_MS + 1;
    await expect(run(await sign('k1', clock.at))).resolves.toMatchObject({ objectId: 'oid-1' });
  });

  it('asks with a deadline and refuses redirects on every request', async () => {
    const { run, seen } = setup({ keys: () => ({ body: keySet('k1') }) });
    await run(await sign('k1'));
    expect(seen).toHaveLength(2);
    for (const { init } of seen) {
      expect(init?.redirect).toBe('error');
      expect(init?.signal).toBeInstanceOf(AbortSignal);
      expect(init?.signal?.aborted).toBe(false);
    }
  });

  it('a kid that matches two keys of the set is refused as an unknown key, without a refresh', async () => {
    const { run, seen, clock } = setup({ keys: () => ({ body: keySet('k1', 'k1') }) });
    const token = await sign('k1');
    expect((await rejection(run(token))).message).toBe('The token was not signed by a known key of the tenant.');
    clock.at = NOW + COOLDOWN_MS + 1;
    const later = await sign('k1', clock.at);
    expect(await rejection(run(later))).toBeInstanceOf(InvalidTokenError);
    expect(seen).toHaveLength(2);
  });
});

describe('SigningKeyStore: when it refreshes', () => {
  it('keeps the key set for exactly its maximum age (6 h): the verified token is trusted until then, checked again after', async () => {
    const { run, seen, keys, clock } = setup({ keys: () => ({ body: keySet('k1') }) });
    const token = await sign('k1');
    await run(token);
    const generation = keys.generationAt(NOW);
    expect(generation).toBeDefined();
    clock.at = NOW + MAX_AGE_MS;
    expect(keys.generationAt(clock.at)).toBe(generation);
    await run(token);
    expect(seen).toHaveLength(2);
    clock.at = NOW + MAX_AGE_MS + 1;
    expect(keys.generationAt(clock.at)).toBeUndefined();
    await run(token);
    expect(seen).toHaveLength(3);
    expect(keys.generationAt(clock.at)).not.toBe(generation);
  });

  it('without the verified-token cache too: a check at exactly the maximum age uses the keys in hand', async () => {
    const { seen, keys, clock } = setup({ keys: () => ({ body: keySet('k1') }) });
    const check = (token: string) => verifyCaller(`Bearer ${token}`, { keys, policy, clock });
    await check(await sign('k1'));
    clock.at = NOW + MAX_AGE_MS;
    await check(await sign('k1', clock.at));
    expect(seen).toHaveLength(2);
    clock.at = NOW + MAX_AGE_MS + 1;
    await check(await sign('k1', clock.at));
    expect(seen).toHaveLength(3);
  });

  it('an unknown kid refreshes once the 5-minute cooldown since the last attempt is over, to the millisecond', async () => {
    let set = keySet('k1');
    const { run, seen, clock } = setup({ keys: () => ({ body: set }) });
    await run(await sign('k1'));
    set = keySet('k1', 'rotated');
    clock.at = NOW + COOLDOWN_MS - 1;
    expect((await rejection(run(await sign('rotated', clock.at)))).message).toBe('The token was not signed by a known key of the tenant.');
    expect(seen).toHaveLength(2);
    clock.at = NOW + COOLDOWN_MS;
    await expect(run(await sign('rotated', clock.at))).resolves.toMatchObject({ objectId: 'oid-1' });
    expect(seen).toHaveLength(3);
  });
});

describe('SigningKeyStore.prefetch: the work of the first caller done at start-up', () => {
  it('imports every key that can verify RS256 and runs one signature check, so the first caller does neither', async () => {
    const jwks = { keys: [{ ...ecJwk, kid: 'ec' }, { ...publicJwk, kid: 'other' }, { ...publicJwk, kid: 'k1' }] };
    const { run, keys } = setup({ keys: () => ({ body: jwks }) });
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    const verify = vi.spyOn(crypto.subtle, 'verify');
    await keys.prefetch();
    expect(importKey).toHaveBeenCalledTimes(2);
    expect(verify).toHaveBeenCalledTimes(1);
    expect((verify.mock.calls[0]?.[1] as { algorithm: { name: string } }).algorithm.name).toBe('RSASSA-PKCS1-v1_5');
    // A real check ran (and found the throwaway signature wrong), not a refused call.
    await expect(verify.mock.results[0]?.value).resolves.toBe(false);
    importKey.mockClear();
    verify.mockClear();
    await expect(run(await sign('k1'))).resolves.toMatchObject({ objectId: 'oid-1' });
    expect(importKey).not.toHaveBeenCalled();
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('imports at most 16 keys', async () => {
    const { keys } = setup({ keys: () => ({ body: keySet(...Array.from({ length: 17 }, (_, i) => `k${i}`)) }) });
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    await keys.prefetch();
    expect(importKey).toHaveBeenCalledTimes(16);
  });
});
