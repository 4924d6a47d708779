import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { rejection } from '../support/rejection';
import { beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyStore, VerifiedTokenCache, verifyCaller } from '../../src/core/caller';
import type { CallerPolicy } from '../../src/core/caller';
import { InvalidTokenError, UpstreamUnavailableError } from '../../src/core/errors';

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER_TENANT = '99999999-2222-3333-4444-555555555555';
const AUTHORITY = 'https://login.example.test';
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const policy: CallerPolicy = { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT], v1IssuerBase: 'https://sts.windows.net/', v2IssuerHost: AUTHORITY };

let key: CryptoKey;
let jwks: { keys: object[] };

/** A fake OIDC authority behind an injected fetch: counts calls and can be switched off. */
function authority() {
  const state = { calls: 0, down: false, keys: () => jwks };
  const fetchFn = ((url: string) => {
    state.calls += 1;
    if (state.down) return Promise.reject(new TypeError('fetch failed'));
    if (url.endsWith('/openid-configuration')) return Promise.resolve(Response.json({ jwks_uri: `${AUTHORITY}/${TENANT}/discovery/v2.0/keys` }));
    return Promise.resolve(Response.json(state.keys()));
  }) as typeof fetch;
  return { state, fetchFn };
}

function makeStore(fetchFn: typeof fetch, clock: { now: () => number }) {
  return new SigningKeyStore({ discoveryUrl: `${AUTHORITY}/${TENANT}/v2.0/.well-known/openid-configuration`, fetch: fetchFn, clock });
}

async function sign(claims: JWTPayload, options: { kid?: string; alg?: string; signWith?: CryptoKey } = {}): Promise<string> {
  const base = { aud: 'api://dbx-token-vending', iss: `${AUTHORITY}/${TENANT}/v2.0`, tid: TENANT, oid: 'OID-1', azp: 'APP-1', roles: ['Vend.X'], idtyp: 'app', iat: NOW / 1000 - 10, exp: NOW / 1000 + 3600 };
  const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined));
  return new SignJWT(payload).setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'k1', typ: 'JWT' }).sign(options.signWith ?? key);
}

beforeAll(async () => {
  // A second, unrelated key in the set, as Entra ID publishes several.
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'other' }] };
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  jwks.keys.push({ ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'RS256' });
});

async function verify(token: string | null, store = makeStore(authority().fetchFn, { now: () => NOW })) {
  return verifyCaller(token === null ? null : `Bearer ${token}`, { keys: store, policy, clock: { now: () => NOW } });
}


describe('verifyCaller', () => {
  it('accepts a v2 app token and maps the identity', async () => {
    const id = await verify(await sign({}));
    expect(id).toEqual({ tenantId: TENANT, objectId: 'oid-1', appId: 'app-1', roles: ['Vend.X'], kind: 'app', name: undefined });
  });

  it('accepts a v1 token (appid, sts issuer) and a delegated user token', async () => {
    const v1 = await verify(await sign({ iss: `https://sts.windows.net/${TENANT}/`, azp: undefined, appid: 'APP-V1', idtyp: undefined }));
    expect(v1).toMatchObject({ appId: 'app-v1', kind: 'app' });
    const user = await verify(await sign({ idtyp: 'user', scp: 'Vend.Token', upn: 'ada@example.test' }));
    expect(user).toMatchObject({ kind: 'user', name: 'ada@example.test' });
  });

  const negatives: [string, () => Promise<string | null>, RegExp][] = [
    ['missing token', () => Promise.resolve(null), /bearer token is required/],
    ['expired beyond the 60 s tolerance', () => sign({ exp: NOW / 1000 - 61 }), /expired/],
    ['wrong audience', () => sign({ aud: 'api://someone-else' }), /"aud"/],
    ['issuer of another tenant', () => sign({ iss: `${AUTHORITY}/${OTHER_TENANT}/v2.0`, tid: OTHER_TENANT }), /"iss"/],
    ['tid that does not match the issuer', () => sign({ tid: OTHER_TENANT }), /issuer does not match/],
    ['missing oid', () => sign({ oid: undefined }), /"oid"/],
    ['missing iat', () => sign({ iat: undefined }), /"iat"/],
    ['HS256', () => new SignJWT({ aud: 'x' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new Uint8Array(32)), /algorithm is not allowed/],
    ['signed by an unknown key', async () => sign({}, { signWith: (await generateKeyPair('RS256')).privateKey }), /signature is not valid/],
    ['garbage', () => Promise.resolve('not.a.jwt'), /malformed/],
    ['over 16 KiB', () => Promise.resolve('a'.repeat(17 * 1024)), /too large/],
  ];
  for (const [name, make, message] of negatives) {
    it(`refuses: ${name}`, async () => {
      const err = await rejection(verify(await make()));
      expect(err).toBeInstanceOf(InvalidTokenError);
      expect((err as InvalidTokenError).code).toBe('invalid_token');
      expect(err.message).toMatch(message);
    });
  }

  it('never echoes the token in the error', async () => {
    const token = await sign({ aud: 'api://someone-else' });
    const err = await rejection(verify(token));
    expect(JSON.stringify({ m: err.message, h: (err as InvalidTokenError).headers })).not.toContain(token.split('.')[1]);
  });
});

describe('SigningKeyStore', () => {
  it('shares one discovery + JWKS fetch between concurrent cold requests', async () => {
    const { state, fetchFn } = authority();
    const store = makeStore(fetchFn, { now: () => NOW });
    const token = await sign({});
    await Promise.all(Array.from({ length: 20 }, () => verify(token, store)));
    expect(state.calls).toBe(2);
  });

  it('answers 503 when no keys were ever fetched, and keeps the last good keys when a refresh fails', async () => {
    const { state, fetchFn } = authority();
    let now = NOW;
    const store = makeStore(fetchFn, { now: () => now });
    state.down = true;
    expect(await rejection(verify(await sign({}), store))).toBeInstanceOf(UpstreamUnavailableError);
    state.down = false;
    await verify(await sign({}), store);
    state.down = true;
    now += 7 * 60 * 60_000; // past the key max age: a refresh is attempted and fails
    const token = await new SignJWT({ aud: 'api://dbx-token-vending', iss: `${AUTHORITY}/${TENANT}/v2.0`, tid: TENANT, oid: 'o', azp: 'a', iat: now / 1000, exp: now / 1000 + 600 })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(key);
    await expect(verifyCaller(`Bearer ${token}`, { keys: store, policy, clock: { now: () => now } })).resolves.toMatchObject({ objectId: 'o' });
  });

  it('prefetch at start: the keys are in hand before the first caller; a failed prefetch rejects nothing and the caller fetches again', async () => {
    const { state, fetchFn } = authority();
    const store = makeStore(fetchFn, { now: () => NOW });
    await store.prefetch();
    expect(state.calls).toBe(2);
    await verify(await sign({}), store);
    expect(state.calls).toBe(2); // checked with the prefetched keys: no request of its own
    await store.prefetch();
    expect(state.calls).toBe(2); // keys in hand: nothing to do
    const cold = authority();
    const failed = makeStore(cold.fetchFn, { now: () => NOW });
    cold.state.down = true;
    await expect(failed.prefetch()).resolves.toBeUndefined();
    expect(await rejection(verify(await sign({}), failed))).toBeInstanceOf(UpstreamUnavailableError); // down: 503, not 401
    cold.state.down = false;
    await verify(await sign({}), failed);
    expect(cold.state.calls).toBe(4); // the failed prefetch's discovery, the request's, then discovery + keys
  });

  it('refreshes for an unknown kid at most once per 5 minutes', async () => {
    const { state, fetchFn } = authority();
    let now = NOW;
    const store = makeStore(fetchFn, { now: () => now });
    await verify(await sign({}), store);
    expect(state.calls).toBe(2);
    const unknownKid = await sign({}, { kid: 'rotated' });
    for (let i = 0; i < 5; i++) expect(await rejection(verify(unknownKid, store))).toBeInstanceOf(InvalidTokenError);
    expect(state.calls).toBe(2);
    now += 5 * 60_000 + 1;
    expect(await rejection(verify(unknownKid, store))).toBeInstanceOf(InvalidTokenError);
    expect(state.calls).toBe(3); // one JWKS refresh (the jwks_uri stays known)
  });
});

describe('verifyCaller with the verified-token cache', () => {
  function setup(maxEntries?: number) {
    const clock = { at: NOW, now: () => clock.at };
    const { state, fetchFn } = authority();
    const keys = makeStore(fetchFn, clock);
    const verified = new VerifiedTokenCache(maxEntries === undefined ? {} : { maxEntries });
    let resolves = 0;
    const resolve = keys.resolve;
    Object.defineProperty(keys, 'resolve', { value: (...args: Parameters<typeof resolve>) => ((resolves += 1), resolve(...args)) });
    const run = (token: string) => verifyCaller(`Bearer ${token}`, { keys, policy, clock, verified });
    return { clock, state, verified, run, checks: () => resolves };
  }

  it('checks a token once, then answers the same identity without a second signature check', async () => {
    const { run, checks, verified } = setup();
    const token = await sign({});
    const first = await run(token);
    const second = await run(token);
    expect(second).toEqual(first);
    expect(checks()).toBe(1);
    expect(verified.size).toBe(1);
  });

  it('never serves a token at or past its exp: it goes back through jose, which refuses it past the tolerance', async () => {
    const { run, checks, clock } = setup();
    const token = await sign({ exp: NOW / 1000 + 120 });
    await run(token);
    clock.at = NOW + 120_000;
    await expect(run(token)).resolves.toMatchObject({ objectId: 'oid-1' });
    expect(checks()).toBe(2);
    clock.at = NOW + 120_000 + 61_000;
    expect(await rejection(run(token))).toBeInstanceOf(InvalidTokenError);
    expect(checks()).toBe(3);
  });

  it('matches the very same bytes only: a token with another signature is checked, and refused', async () => {
    const { run, checks } = setup();
    const token = await sign({});
    await run(token);
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${(await sign({ oid: 'OID-2' })).split('.')[2]}`;
    const err = await rejection(run(forged));
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(checks()).toBe(2);
  });

  it('retires every entry when the signing keys are loaded again', async () => {
    const { run, checks, clock, state } = setup();
    const token = await sign({ exp: NOW / 1000 + 8 * 3600 });
    await run(token);
    // Past the key set's maximum age (6 h) the next check reloads it: the cached entry is not used.
    clock.at = NOW + 6 * 3600_000 + 1;
    await run(token);
    expect(checks()).toBe(2);
    expect(state.calls).toBe(3);
    // Checked against the new set, it is remembered again.
    await run(token);
    expect(checks()).toBe(2);
  });

  it('is bounded: past its size the oldest entry goes first', async () => {
    const { run, checks, verified } = setup(2);
    const [a, b, c] = await Promise.all([sign({ oid: 'A' }), sign({ oid: 'B' }), sign({ oid: 'C' })]);
    for (const t of [a, b, c]) await run(t);
    expect(verified.size).toBe(2);
    await run(c);
    await run(b);
    expect(checks()).toBe(3);
    await run(a);
    expect(checks()).toBe(4);
  });

  it('never caches a refusal', async () => {
    const { run, checks, verified } = setup();
    const wrongAudience = await sign({ aud: 'api://someone-else' });
    for (let i = 0; i < 2; i += 1) expect(await rejection(run(wrongAudience))).toBeInstanceOf(InvalidTokenError);
    expect(checks()).toBe(2);
    expect(verified.size).toBe(0);
  });
});
