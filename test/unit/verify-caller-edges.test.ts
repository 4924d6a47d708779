import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOKEN_BYTES, SigningKeyStore, VerifiedTokenCache, verifyCaller } from '../../src/core/caller';
import type { CallerPolicy } from '../../src/core/caller';
import { InvalidTokenError } from '../../src/core/errors';
import { rejection } from '../support/rejection';

// Edges of the caller check: header syntax, size bound, clock tolerance, identity mapping.
const T1 = '11111111-2222-3333-4444-555555555555';
const T2 = 'aaaaaaaa-2222-3333-4444-555555555555';
const AUTHORITY = 'https://login.example.test';
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const policy: CallerPolicy = { audiences: ['api://vend', 'client-id-1'], allowedTenants: [T1, T2], v1IssuerBase: 'https://sts.windows.net/', v2IssuerHost: AUTHORITY };

let key: CryptoKey;
let store: SigningKeyStore;
let jwksOf: object;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] };
  jwksOf = jwks;
  const fetchFn = ((url: string) => Promise.resolve(Response.json(url.endsWith('/openid-configuration') ? { jwks_uri: `${AUTHORITY}/keys` } : jwks))) as typeof fetch;
  store = new SigningKeyStore({ discoveryUrl: `${AUTHORITY}/${T1}/v2.0/.well-known/openid-configuration`, fetch: fetchFn, clock: { now: () => NOW } });
});

function sign(claims: JWTPayload): Promise<string> {
  const base = { aud: 'api://vend', iss: `${AUTHORITY}/${T1}/v2.0`, tid: T1, oid: 'oid-1', azp: 'app-1', iat: NOW / 1000 - 10, exp: NOW / 1000 + 3600 };
  const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined));
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(key);
}

const verifyHeader = (header: string | null) => verifyCaller(header, { keys: store, policy, clock: { now: () => NOW } });
const verify = async (claims: JWTPayload) => verifyHeader(`Bearer ${await sign(claims)}`);
const message = async (p: Promise<unknown>): Promise<string> => {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(InvalidTokenError);
  return err.message;
};

describe('verifyCaller: the Authorization header', () => {
  it('accepts any case of "Bearer", several spaces, and surrounding blanks', async () => {
    const token = await sign({});
    for (const h of [`bearer ${token}`, `BEARER   ${token}`, `  Bearer ${token}  `]) expect((await verifyHeader(h)).objectId).toBe('oid-1');
  });

  it.each([[''], ['Bearer'], ['Bearer '], ['Basic dXNlcjpwYXNz'], ['Bearer a b'], ['Bearer tok$en'], ['Bearertoken'], ['XBearer abc'], ['Token Bearer abc']])('refuses %j', async (h) => {
    expect(await message(verifyHeader(h))).toMatch(/^(A bearer token is required\.|The Authorization header must be "Bearer <token>"\.)$/);
  });

  it('measures the size bound on the whole header: 16 KiB of token passes the bound, one byte more does not', async () => {
    expect(MAX_TOKEN_BYTES).toBe(16 * 1024);
    expect(await message(verifyHeader(`Bearer ${'a'.repeat(MAX_TOKEN_BYTES)}`))).toBe('The token is malformed.');
    expect(await message(verifyHeader(`Bearer ${'a'.repeat(MAX_TOKEN_BYTES + 1)}`))).toBe('The bearer token is too large.');
  });
});

describe('verifyCaller: time and claims', () => {
  it('allows 60 s of clock skew on exp and nbf, not more', async () => {
    expect((await verify({ exp: NOW / 1000 - 59 })).objectId).toBe('oid-1');
    expect(await message(verify({ exp: NOW / 1000 - 61 }))).toBe('The token has expired.');
    expect((await verify({ nbf: NOW / 1000 + 59 })).objectId).toBe('oid-1');
    expect(await message(verify({ nbf: NOW / 1000 + 61 }))).toMatch(/^The token claim "nbf" is not acceptable \(/);
  });

  it.each([['exp'], ['iat'], ['tid'], ['oid']])('requires %s', async (claim) => {
    expect(await message(verify({ [claim]: undefined }))).toMatch(new RegExp(`"${claim}"`));
  });

  it('accepts every configured audience and every allowed tenant, v1 and v2', async () => {
    expect((await verify({ aud: 'client-id-1' })).tenantId).toBe(T1);
    expect((await verify({ tid: T2, iss: `${AUTHORITY}/${T2}/v2.0` })).tenantId).toBe(T2);
    expect((await verify({ tid: T2, iss: `https://sts.windows.net/${T2}/` })).tenantId).toBe(T2);
    expect(await message(verify({ tid: T2 }))).toBe('The token issuer does not match its tenant.');
  });

  it('refuses a token that names no calling application, or a tid that is not a string', async () => {
    expect(await message(verify({ azp: undefined }))).toBe('The token names no calling application (appid/azp).');
    expect(await message(verify({ azp: '' }))).toBe('The token names no calling application (appid/azp).');
    expect(await message(verify({ azp: 'a'.repeat(257) }))).toBe('The token names no calling application (appid/azp).');
    expect(await message(verify({ oid: 5 }))).toBe('The token claim "oid" is missing or not a string.');
  });
});

describe('verifyCaller: the identity', () => {
  it('an app: lower-cased ids, string roles only, its display name', async () => {
    const id = await verify({ tid: T1.toUpperCase(), iss: `${AUTHORITY}/${T1}/v2.0`, oid: 'OID-X', azp: 'APP-X', roles: ['A', 3, 'B'], app_displayname: 'etl' });
    expect(id).toEqual({ tenantId: T1, objectId: 'oid-x', appId: 'app-x', roles: ['A', 'B'], kind: 'app', name: 'etl' });
    expect((await verify({ roles: 'A' })).roles).toEqual([]);
  });

  it('appid wins over azp; an empty one counts as absent', async () => {
    expect((await verify({ appid: 'v1-app', azp: 'v2-app' })).appId).toBe('v1-app');
    expect((await verify({ appid: '', azp: 'v2-app' })).appId).toBe('v2-app');
    expect(await verify({ upn: '', app_displayname: 'd' })).toMatchObject({ kind: 'app', name: 'd' });
  });

  it('a user: named by upn, else preferred_username, else unique_name', async () => {
    expect(await verify({ idtyp: 'user', upn: 'u@x', preferred_username: 'p@x' })).toMatchObject({ kind: 'user', name: 'u@x' });
    expect(await verify({ idtyp: 'user', preferred_username: 'p@x', unique_name: 'n@x' })).toMatchObject({ kind: 'user', name: 'p@x' });
    expect(await verify({ idtyp: 'user', unique_name: 'n@x' })).toMatchObject({ kind: 'user', name: 'n@x' });
  });

  it('without idtyp: a scp or a user name makes it a user, neither an app', async () => {
    expect((await verify({ scp: 'Vend.Token' })).kind).toBe('user');
    expect((await verify({ upn: 'u@x' })).kind).toBe('user');
    expect(await verify({ app_displayname: 'daemon' })).toMatchObject({ kind: 'app', name: 'daemon' });
    expect(await verify({ idtyp: 'app', upn: 'u@x', app_displayname: 'd' })).toMatchObject({ kind: 'app', name: 'd' });
  });
});

describe('verifyCaller: group ids and claim bounds', () => {
  it('keeps string group ids of at most 64 characters, lower-cased, at most 500; no groups claim when none remain', async () => {
    const long = 'g'.repeat(65);
    const id = await verify({ groups: ['AAAA-1', 7, long, 'g'.repeat(64)] });
    expect(id.groups).toEqual(['aaaa-1', 'g'.repeat(64)]);
    const many = Array.from({ length: 501 }, (_, i) => `group-${i}`);
    expect((await verify({ groups: many }))?.groups).toEqual(many.slice(0, 500));
    expect(await verify({ groups: [long, 3] })).not.toHaveProperty('groups');
    expect(await verify({ groups: 'g-1' })).not.toHaveProperty('groups');
    // An entry that is not a string (even one with a length) is skipped, not fatal.
    expect((await verify({ groups: [['nested'], { length: 1 }, 'g-2'] })).groups).toEqual(['g-2']);
  });

  it('a claim of 256 characters is read, one of 257 is not', async () => {
    expect((await verify({ azp: 'A'.repeat(256) })).appId).toBe('a'.repeat(256));
    expect((await verify({ app_displayname: 'n'.repeat(257) })).name).toBeUndefined();
  });

  it('a token that says it is a user is one, even with no scp and no name', async () => {
    expect(await verify({ idtyp: 'user' })).toMatchObject({ kind: 'user', name: undefined });
  });
});

describe('verifyCaller: the verified-token cache', () => {
  it('tells onCache whether the cache answered, and says nothing while the key set is not loaded', async () => {
    const fetchFn = ((url: string) => Promise.resolve(Response.json(url.endsWith('/openid-configuration') ? { jwks_uri: `${AUTHORITY}/keys` } : jwksOf))) as typeof fetch;
    const keys = new SigningKeyStore({ discoveryUrl: `${AUTHORITY}/${T1}/v2.0/.well-known/openid-configuration`, fetch: fetchFn, clock: { now: () => NOW } });
    const told: boolean[] = [];
    const deps = { keys, policy, clock: { now: () => NOW }, verified: new VerifiedTokenCache(), onCache: (hit: boolean) => told.push(hit) };
    const token = await sign({});
    await verifyCaller(`Bearer ${token}`, deps);
    expect(told).toEqual([]);
    await verifyCaller(`Bearer ${token}`, deps);
    await verifyCaller(`Bearer ${await sign({ oid: 'oid-2' })}`, deps);
    expect(told).toEqual([true, false]);
  });
});
