import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServicePrincipal } from '../../src/core/config';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { VendingError } from '../../src/core/errors';
import { createCredentialFactory } from '../../src/core/azure';
import { EntraTokenMinter } from '../../src/core/mint';
import type { SecretSource, SecretValue } from '../../src/core/secrets';
import { rejection } from '../support/rejection';
import { startOwnAuthority } from '../support/own-authority';
import type { OwnAuthority } from '../support/own-authority';

/** The VendingError a promise rejects with (fails the test if it resolves). */
const refused = async (p: Promise<unknown>): Promise<VendingError> => (await rejection(p)) as VendingError;
// The SPs' Entra ID tokens through the real credentials, against an Entra ID authority of this
// file's own (the sandbox's, started here so it can be made to throttle, fail or stall).
const DATABRICKS = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const SCOPE = `${DATABRICKS}/.default`;
const TOKEN_PATH = /oauth2\/v2\.0\/token$/;

let own: OwnAuthority;
const appCredential: TokenCredential = { getToken: () => Promise.reject(new Error('no federated SP here')) };

/** One SP registered with the authority, its secret in a vault of versions, and a minter for it. */
function world(opts: { deadlineMs?: number } = {}) {
  const clientId = randomUUID();
  const sp: ServicePrincipal = { name: `sp-${clientId.slice(0, 8)}`, clientId, credential: { kind: 'secret', name: 'sp-secret' }, federationScope: SCOPE };
  const first = { value: `secret-${randomUUID()}`, version: 'v1' };
  // `vault` is what a cached read returns, `latest` what a read bypassing the cache returns.
  const state = { now: 0, vault: first, latest: first, reads: [] as boolean[], built: 0, outcomes: [] as boolean[] };
  own.authority.registerClient(clientId, { secrets: [first.value] });
  const secrets: SecretSource = {
    get: (_name, options): Promise<SecretValue> => {
      state.reads.push(options?.latest ?? false);
      return Promise.resolve({ ...(options?.latest ? state.latest : state.vault), contentType: undefined });
    },
  };
  const factory = createCredentialFactory({ tenantId: own.tenantId, authorityHost: own.authority.authorityHost, appCredential });
  const minter = new EntraTokenMinter({
    secrets,
    createCredential: (...args) => (state.built++, factory(...args)),
    clock: { now: () => Date.now() + state.now },
    onOutcome: (ok) => state.outcomes.push(ok),
    deadlineMs: opts.deadlineMs,
  });
  return { sp, state, minter, get: () => minter.getToken(sp, SCOPE, 300) };
}
const requests = () => own.authority.faults.requests(TOKEN_PATH);

beforeAll(async () => {
  own = await startOwnAuthority();
}, 60_000);
afterAll(async () => own?.stop());
afterEach(() => own.authority.faults.clear());

describe('EntraTokenMinter with the real credentials (the sandbox Entra ID)', () => {
  it("mints the SP's token for the resource; its expiry is no later than the token's own exp", async () => {
    const { sp, state, get } = world();
    const got = await get();
    const claims = decodeJwt(got.token);
    expect(claims.aud).toBe(DATABRICKS);
    expect(claims.appid).toBe(sp.clientId);
    expect(got.expiresOnMs).toBeLessThanOrEqual((claims.exp ?? 0) * 1000);
    expect(got.expiresOnMs).toBeGreaterThan(Date.now() + 3_500_000);
    expect(state.outcomes).toEqual([true]);
  });

  it('a secret rotated in Entra ID and Key Vault: the latest version is read once and the mint retried with it', async () => {
    const { sp, state, minter, get } = world();
    const rotated = `secret-${randomUUID()}`;
    own.authority.setClientSecrets(sp.clientId, [rotated]);
    state.latest = { value: rotated, version: 'v2' }; // a cached read still has v1
    const got = await get();
    expect(decodeJwt(got.token).appid).toBe(sp.clientId);
    // The cached secret (refused by Entra ID), then the latest version once, and a credential for each.
    expect(state.reads).toEqual([false, true]);
    expect(state.built).toBe(2);
    expect(state.outcomes).toEqual([true]);
    // The new credential is kept: a mint for another resource reads nothing and builds nothing.
    const other = await minter.getToken(sp, 'https://management.core.windows.net//.default', 300);
    expect(decodeJwt(other.token).aud).toBe('https://management.core.windows.net/');
    expect(state.reads).toEqual([false, true]);
    expect(state.built).toBe(2);
  });

  it('a secret Entra ID refuses while Key Vault has nothing newer: 502 invalid_client, one read of the latest version', async () => {
    const { sp, state, get } = world();
    own.authority.setClientSecrets(sp.clientId, [`other-${randomUUID()}`]);
    const err = await refused(get());
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toBe(`Entra ID refused service principal "${sp.name}" (invalid_client, AADSTS7000215): the operators should check that the SP's credential in Key Vault is current and not expired.`);
    expect(err.detail).not.toContain(state.vault.value);
    expect(state.reads).toEqual([false, true]);
    expect(state.outcomes).toEqual([false]);
  });

  it("a 429 tells Entra ID's own Retry-After, no request goes out before it has passed, and then a new credential asks", async () => {
    const { sp, state, get } = world();
    // retry-after-ms 0 makes the SDK's own retries immediate; Retry-After is what Entra ID asks of us.
    own.authority.faults.set({ path: TOKEN_PATH, status: 429, headers: { 'retry-after': '7', 'retry-after-ms': '0' }, json: { error: 'temporarily_unavailable' } });
    const start = requests();
    const err = await refused(get());
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(7);
    expect(err.detail).toBe(`Entra ID answered HTTP 429 for service principal "${sp.name}"; no token was issued.`);
    expect(requests()).toBe(start + 3); // the first try and two quick SDK retries, no more
    own.authority.faults.clear();
    state.now = 2_500;
    const waiting = await refused(get());
    expect(waiting).toBeInstanceOf(UpstreamUnavailableError);
    expect(waiting.retryAfterSeconds).toBe(5);
    expect(waiting.detail).toBe('Entra ID asked the service to wait before the next token request; no token was issued.');
    expect(requests()).toBe(start + 3);
    state.now = 7_000; // exactly when Entra ID said: allowed again
    const built = state.built;
    await expect(get()).resolves.toHaveProperty('token');
    expect(state.built).toBe(built + 1); // the throttled credential (and MSAL's throttle entry) was dropped
    expect(state.outcomes).toEqual([false, true]);
  });

  it('a server error without Retry-After: 503 with Retry-After 1 s, and the next request goes out at once', async () => {
    const { sp, get } = world();
    own.authority.faults.set({ path: TOKEN_PATH, status: 503, headers: { 'retry-after-ms': '0' }, json: { error: 'temporarily_unavailable' } });
    const err = await refused(get());
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.detail).toBe(`Entra ID answered HTTP 503 for service principal "${sp.name}"; no token was issued.`);
    own.authority.faults.clear();
    await expect(get()).resolves.toHaveProperty('token');
  });

  it('an authority that does not answer: 503 at our deadline with Retry-After 1 s; the next mint uses a new credential', async () => {
    const { sp, state, get } = world({ deadlineMs: 200 });
    own.authority.faults.set({ path: TOKEN_PATH, delayMs: 5_000 });
    const started = Date.now();
    const err = await refused(get());
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.detail).toBe(`Entra ID did not answer in time for service principal "${sp.name}"; no token was issued.`);
    // The stalled credential is dropped: the next attempt builds a new one (refused at once here,
    // so the test does not wait on a full sign-in within the short deadline).
    own.authority.faults.set({ path: TOKEN_PATH, status: 400, json: { error: 'invalid_scope', error_description: 'AADSTS70011: no' } });
    const built = state.built;
    await expect(get()).rejects.toBeInstanceOf(UpstreamRejectedError);
    expect(state.built).toBe(built + 1);
  });
});
