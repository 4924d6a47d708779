import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { VendingError } from '../../src/core/errors';
import { createOnBehalfOfMinter } from '../../src/core/azure';
import type { OnBehalfOfMinter } from '../../src/core/mint';
import type { CallerIdentity } from '../../src/core/policy';
import { rejection } from '../support/rejection';
import { AuthorityMetadataCache } from '../../src/core/mint/authority-metadata-cache';
import { startOwnAuthority } from '../support/own-authority';
import type { OwnAuthority } from '../support/own-authority';

/** The VendingError a promise rejects with (fails the test if it resolves). */
const refused = async (p: Promise<unknown>): Promise<VendingError> => (await rejection(p)) as VendingError;
// mode user: the on-behalf-of exchange against the sandbox's Entra ID authority (an instance of
// this file's own, so it can be made to throttle, fail or stall).
const DATABRICKS = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const SCOPE = `${DATABRICKS}/.default`;
const API_CLIENT = randomUUID();
const IDENTITY_CLIENT = randomUUID();
const IDENTITY_OBJECT = randomUUID();

let own: OwnAuthority;
/** The minter's clock: fixed while a test runs (tokens from the authority live an hour of real time). */
let base = Date.now();
let now = 0;
const clock = { now: () => base + now };
const assertionScopes: string[] = [];
/** The app's managed identity: a real token of the authority for api://AzureADTokenExchange. */
const appCredential: TokenCredential = {
  getToken: async (scope): Promise<AccessToken> => {
    assertionScopes.push(String(scope));
    const token = await own.authority.issueAccessToken(IDENTITY_CLIENT, String(scope));
    return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

function minter(deadlineMs?: number): OnBehalfOfMinter {
  return createOnBehalfOfMinter({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, apiClientId: API_CLIENT, appCredential, clock, deadlineMs });
}
const caller = (objectId: string, tenantId = own.tenantId): CallerIdentity => ({ tenantId, objectId, appId: randomUUID(), roles: [], kind: 'user', name: undefined });
const userToken = (audience: string = API_CLIENT) => own.authority.issueCallerToken({ kind: 'user', audience });
/** Token endpoint requests this authority received (answered or refused by an injected fault). */
const requests = () => own.authority.faults.requests(/oauth2\/v2\.0\/token$/);

beforeAll(async () => {
  own = await startOwnAuthority();
  own.authority.registerClient(IDENTITY_CLIENT, { objectId: IDENTITY_OBJECT });
  // The vending API's app registration trusts the managed identity (a federated credential), no secret.
  own.authority.registerClient(API_CLIENT, { federatedSubjects: [IDENTITY_OBJECT] });
}, 60_000);
afterAll(async () => own?.stop());
afterEach(() => {
  own.authority.faults.clear();
  base = Date.now();
  now = 0;
});

describe('createOnBehalfOfMinter (the sandbox Entra ID)', () => {
  it("exchanges the caller's token for the user's own token for the resource, the app identity's token being the client assertion", async () => {
    assertionScopes.length = 0;
    const before = Date.now();
    const user = await userToken();
    const got = await minter().getUserToken(caller(randomUUID()), user, SCOPE, 300);
    const claims = decodeJwt(got.token);
    expect(claims.aud).toBe(DATABRICKS);
    expect(claims.oid).toBe(decodeJwt(user).oid);
    expect(claims.appid).toBe(API_CLIENT);
    expect(claims.idtyp).toBe('user');
    expect(assertionScopes).toEqual(['api://AzureADTokenExchange/.default']);
    // The expiry the credential reports: now + expires_in (an hour here).
    expect(got.expiresOnMs).toBeGreaterThanOrEqual(before + 3_500_000);
    expect(got.expiresOnMs).toBeLessThanOrEqual(Date.now() + 3_601_000); // MSAL keeps whole seconds
  });

  it('builds a credential per user, and with the app\'s shared discovery cache discovers the authority once for all of them', async () => {
    const discoveries = () => own.authority.faults.requests(/\/v2\.0\/\.well-known\/openid-configuration$/);
    const user = await userToken();
    let start = discoveries();
    await minter().getUserToken(caller(randomUUID()), user, SCOPE, 300);
    await minter().getUserToken(caller(randomUUID()), user, SCOPE, 300);
    expect(discoveries()).toBe(start + 2);
    const authorityMetadata = new AuthorityMetadataCache();
    const shared = createOnBehalfOfMinter({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, apiClientId: API_CLIENT, appCredential, clock, authorityMetadata });
    start = discoveries();
    for (let i = 0; i < 3; i++) await shared.getUserToken(caller(randomUUID()), user, SCOPE, 300);
    expect(discoveries()).toBe(start + 1);
  });

  it("caches each user's token under that user's tenant, object id and scope only", async () => {
    const m = minter();
    const user = await userToken();
    const alice = caller(randomUUID());
    const start = requests();
    const first = await m.getUserToken(alice, user, SCOPE, 300);
    expect((await m.getUserToken(alice, user, SCOPE, 300)).token).toBe(first.token);
    expect(requests()).toBe(start + 1);
    // Another user, the same user in another tenant, another scope: never the cached token.
    const others = [
      await m.getUserToken(caller(randomUUID()), user, SCOPE, 300),
      await m.getUserToken(caller(alice.objectId, randomUUID()), user, SCOPE, 300),
      await m.getUserToken(alice, user, 'https://management.core.windows.net//.default', 300),
    ];
    for (const other of others) expect(other.token).not.toBe(first.token);
    expect(requests()).toBe(start + 4);
    // The parts of the key stay apart: tenant "ab" with object "c" is not tenant "a" with object "bc".
    const ab = await m.getUserToken(caller('c', 'ab'), user, SCOPE, 300);
    expect((await m.getUserToken(caller('bc', 'a'), user, SCOPE, 300)).token).not.toBe(ab.token);
    expect(requests()).toBe(start + 6);
    // Asked for more validity than the cached token has left: a new exchange.
    now = 3_500_000;
    expect((await m.getUserToken(alice, user, SCOPE, 300)).token).not.toBe(first.token);
    expect(requests()).toBe(start + 7);
  });

  it('a token not issued to the vending API is refused: 502 naming the OAuth code and AADSTS number, nothing of the token', async () => {
    const user = await userToken('api://someone-else');
    const err = await refused(minter().getUserToken(caller(randomUUID()), user, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toBe(
      'Entra ID refused the on-behalf-of exchange (invalid_grant, AADSTS50013): the operators should check that the vending API\'s ' +
      "app registration has a federated credential trusting the app's managed identity and the delegated permission " +
      'AzureDatabricks user_impersonation with admin consent.',
    );
    expect(err.detail).not.toContain(user);
  });

  it('an app identity that returns no token: 503, nothing is sent to the token endpoint', async () => {
    const silent = createOnBehalfOfMinter({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, apiClientId: API_CLIENT, appCredential: { getToken: () => Promise.resolve(null) }, clock });
    const start = requests();
    const err = await refused(silent.getUserToken(caller(randomUUID()), await userToken(), SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(requests()).toBe(start);
  });

  it("a 429 tells Entra ID's own Retry-After, and no request goes out before it has passed; a short SDK retry only", async () => {
    const m = minter();
    const user = await userToken();
    // retry-after-ms 0 makes the SDK's own retries immediate; Retry-After is what Entra ID asks of us.
    own.authority.faults.set({ path: /oauth2\/v2\.0\/token$/, status: 429, headers: { 'retry-after': '7', 'retry-after-ms': '0' }, json: { error: 'temporarily_unavailable' } });
    const start = requests();
    const err = await refused(m.getUserToken(caller(randomUUID()), user, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(7);
    expect(err.detail).toBe('Entra ID could not be reached for an on-behalf-of token; no token was issued.');
    expect(requests()).toBe(start + 3); // the first try and two retries
    own.authority.faults.clear();
    // Any user, 2.5 s later: still refused without asking, with the time that is left.
    now = 2_500;
    const waiting = await refused(m.getUserToken(caller(randomUUID()), user, SCOPE, 300));
    expect(waiting).toBeInstanceOf(UpstreamUnavailableError);
    expect(waiting.retryAfterSeconds).toBe(5);
    expect(waiting.detail).toBe('Entra ID asked the service to wait before the next on-behalf-of request; no token was issued.');
    expect(requests()).toBe(start + 3);
    now = 7_000; // exactly when Entra ID said: allowed again
    await expect(m.getUserToken(caller(randomUUID()), user, SCOPE, 300)).resolves.toHaveProperty('token');
    expect(requests()).toBe(start + 4);
  });

  it('a server error without Retry-After is 503 with Retry-After 1 s, and the next request goes out at once', async () => {
    const m = minter();
    const user = await userToken();
    own.authority.faults.set({ path: /oauth2\/v2\.0\/token$/, status: 503, headers: { 'retry-after-ms': '0' }, json: { error: 'temporarily_unavailable' } });
    const err = await refused(m.getUserToken(caller(randomUUID()), user, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(1);
    own.authority.faults.clear();
    await expect(m.getUserToken(caller(randomUUID()), user, SCOPE, 300)).resolves.toHaveProperty('token');
  });

  it('an authority that does not answer in time: 503 within our deadline, Retry-After 1 s', async () => {
    const user = await userToken();
    own.authority.faults.set({ path: /oauth2\/v2\.0\/token$/, delayMs: 5_000 });
    const started = Date.now();
    const err = await refused(minter(200).getUserToken(caller(randomUUID()), user, SCOPE, 300));
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Entra ID did not answer the on-behalf-of request within 0.2 s; no token was issued.');
    expect(err.retryAfterSeconds).toBe(1);
  });

  it('clears its deadline timer once the exchange is settled: nothing of a finished exchange is left waiting', async () => {
    const user = await userToken();
    const setSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    try {
      await minter(12_345).getUserToken(caller(randomUUID()), user, SCOPE, 300);
      const timers = setSpy.mock.calls.flatMap((call, i) => (call[1] === 12_345 ? [setSpy.mock.results[i]?.value as unknown] : []));
      expect(timers).toHaveLength(1);
      expect(clearSpy.mock.calls.map((call) => call[0] as unknown)).toContain(timers[0]);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});
