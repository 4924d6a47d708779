import type { AccessToken, TokenCredential } from '@azure/identity';
import { rejection } from '../support/rejection';
import { describe, expect, it, vi } from 'vitest';
import type { ServicePrincipal } from '../../src/core/config';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { EntraTokenMinter } from '../../src/core/mint';
import type { SecretSource, SecretValue } from '../../src/core/secrets';

const SP: ServicePrincipal = { name: 'etl-sp', clientId: 'c', credential: { kind: 'secret', name: 'etl-sp-secret' }, federationScope: '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default' };
const SCOPE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default';

/** A fake Entra ID: accepts only `validSecret`, issues numbered tokens valid for `lifetimeMs`. */
function world(opts: { lifetimeMs?: number } = {}) {
  const state = { now: 1_000_000, validSecret: 's1', vault: { value: 's1', version: 'v1' }, secretReads: 0, tokenCalls: 0, credentials: 0, entraDown: false, outages: 0 };
  const secrets: SecretSource = {
    get: async (): Promise<SecretValue> => {
      state.secretReads += 1;
      await new Promise((r) => setTimeout(r, 5));
      return { ...state.vault, contentType: undefined };
    },
  };
  const createCredential = (_sp: ServicePrincipal, material: SecretValue | undefined): TokenCredential => {
    state.credentials += 1;
    let cached: AccessToken | undefined; // like MSAL: hand back the cached token until 5 min before expiry
    return {
      getToken: async (): Promise<AccessToken> => {
        state.tokenCalls += 1;
        await new Promise((r) => setTimeout(r, 5));
        if (cached && cached.expiresOnTimestamp - state.now > 300_000) return cached;
        if (state.entraDown && ++state.outages) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'AuthenticationError' });
        if (material?.value !== state.validSecret) {
          // The shape @azure/identity gives a refused client secret (MSAL server error → AuthenticationRequiredError).
          throw Object.assign(new Error(`invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided (${material?.value}).`), {
            name: 'AuthenticationRequiredError',
          });
        }
        cached = { token: `token-${state.tokenCalls}`, expiresOnTimestamp: state.now + (opts.lifetimeMs ?? 3_600_000) };
        return cached;
      },
    };
  };
  const minter = new EntraTokenMinter({ secrets, createCredential, clock: { now: () => state.now } });
  return { state, minter };
}


describe('EntraTokenMinter', () => {
  it('serves 100 concurrent cold requests with one secret read and one token call', async () => {
    const { state, minter } = world();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => minter.getToken(SP, SCOPE, 300)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(state.secretReads).toBe(1);
    expect(state.tokenCalls).toBe(1);
  });

  it('returns the cached token while it is valid long enough, and refreshes it when it is not', async () => {
    const { state, minter } = world();
    const first = await minter.getToken(SP, SCOPE, 300);
    state.now += 2_000_000; // 1600 s left
    expect((await minter.getToken(SP, SCOPE, 300)).token).toBe(first.token);
    expect(state.tokenCalls).toBe(1);
    // 1600 s left is less than asked: the credential's own cache would hand the same token back,
    // so the minter starts over with a new credential.
    const second = await minter.getToken(SP, SCOPE, 3000);
    expect(second.token).not.toBe(first.token);
    expect(second.expiresOnMs - state.now).toBeGreaterThanOrEqual(3000_000);
    expect(state.credentials).toBe(2);
  });

  it('after invalid_client reads the latest secret version once and retries', async () => {
    const { state, minter } = world();
    state.validSecret = 's2';
    state.vault = { value: 's1', version: 'v1' };
    // The vault still holds the old secret: a 502 that names what to check, without the secret.
    const err = await rejection(minter.getToken(SP, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.message).toContain('invalid_client, AADSTS7000215');
    expect(err.message).not.toContain('s1');
    expect(state.secretReads).toBe(2);
    // Rotated in the vault: the next request picks the new version and succeeds.
    state.vault = { value: 's2', version: 'v2' };
    expect((await minter.getToken(SP, SCOPE, 300)).token).toMatch(/^token-/);
    expect(state.secretReads).toBe(3); // the kept credential fails once more, then one read of the latest version
  });

  it('keeps serving cached tokens while Entra ID is down, and answers 503 when none is fresh enough', async () => {
    const { state, minter } = world({ lifetimeMs: 3_600_000 });
    await minter.getToken(SP, SCOPE, 300);
    state.entraDown = true;
    await expect(minter.getToken(SP, SCOPE, 300)).resolves.toBeDefined();
    state.now += 3_400_000;
    const err = await rejection(minter.getToken(SP, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.message).not.toContain('ECONNREFUSED');
  });

  it('replaces a token late in its life in the background, and keeps it when that fails', async () => {
    const { state, minter } = world();
    const first = await minter.getToken(SP, SCOPE, 300);
    state.now += 50 * 60_000; // 10 minutes left: still fresh for 300 s, but within the refresh-ahead window
    state.entraDown = true;
    expect((await minter.getToken(SP, SCOPE, 300)).token).toBe(first.token);
    await vi.waitFor(() => expect(state.outages).toBe(1)); // the background refresh ran, and failed
    expect((await minter.getToken(SP, SCOPE, 300)).token).toBe(first.token);
    state.entraDown = false;
    // Each call starts a refresh when none is in flight; soon one succeeds and replaces the token.
    await vi.waitFor(async () => expect((await minter.getToken(SP, SCOPE, 300)).token).not.toBe(first.token));
    const refreshed = await minter.getToken(SP, SCOPE, 300);
    expect(refreshed.expiresOnMs - state.now).toBe(3_600_000);
  });
});
