import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { UnsecuredJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import type { ServicePrincipal } from '../../src/core/config';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { VendingError } from '../../src/core/errors';
import { EntraTokenMinter } from '../../src/core/mint';
import type { SecretSource, SecretValue } from '../../src/core/secrets';
import { describeError } from '../../src/core/errors/describe-error';
import type { TokenEndpointObserver } from '../../src/core/mint/token-endpoint-observer';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { rejection } from '../support/rejection';

/** The VendingError a promise rejects with (fails the test if it resolves). */
const refused = async (p: Promise<unknown>): Promise<VendingError> => (await rejection(p)) as VendingError;
// The minter's own decisions (cache, refresh, retry with the latest secret, expiry, deadline),
// with a scripted credential in place of Entra ID.
const SCOPE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default';
const secretSp: ServicePrincipal = { name: 'etl-sp', clientId: 'c1', credential: { kind: 'secret', name: 'etl-sp-secret' }, federationScope: SCOPE };
const federatedSp: ServicePrincipal = { name: 'fed-sp', clientId: 'c2', credential: { kind: 'federated' }, federationScope: SCOPE };

type Answer = (material: SecretValue | undefined, options: GetTokenOptions | undefined, observer: TokenEndpointObserver | undefined) => Promise<AccessToken | null>;
type Policy = TokenEndpointObserver['policy'];
/** Entra ID throttles this credential: its observer sees the status and Retry-After, and the credential fails. */
async function throttle(observer: TokenEndpointObserver | undefined, status: number, retryAfter?: string): Promise<never> {
  const response = { status, headers: { get: (name: string) => (name === 'retry-after' ? retryAfter : undefined) } };
  await observer?.policy.sendRequest({} as Parameters<Policy['sendRequest']>[0], () => Promise.resolve(response as unknown as Awaited<ReturnType<Policy['sendRequest']>>));
  throw Object.assign(new Error('AADSTS throttled'), { name: 'AuthenticationError' });
}
const invalidClient = () => Object.assign(new Error('invalid_client: AADSTS7000215: Invalid client secret provided.'), { name: 'AuthenticationRequiredError' });

function world(opts: { refreshAheadMs?: number; deadlineMs?: number } = {}) {
  const state = {
    now: 1_000_000,
    vault: { value: 's1', version: 'v1' } as { value: string; version: string } | Error,
    latest: undefined as { value: string; version: string } | undefined,
    reads: [] as string[],
    built: [] as Array<string | undefined>,
    outcomes: [] as boolean[],
    telemetry: [] as string[],
    requests: 0,
    answer: (() => Promise.resolve({ token: 'opaque', expiresOnTimestamp: state.now + 3_600_000 })) as Answer,
    /** Holds a secret read until the promise it returns settles (a rejection fails the read). */
    hold: undefined as ((latest: boolean) => Promise<void> | undefined) | undefined,
  };
  const secrets: SecretSource = {
    get: (name, options): Promise<SecretValue> => {
      state.reads.push(`${name}${options?.latest ? ' latest' : ''}`);
      const read = (): Promise<SecretValue> => {
        const v = options?.latest && state.latest ? state.latest : state.vault;
        return v instanceof Error ? Promise.reject(v) : Promise.resolve({ ...v, contentType: undefined });
      };
      const held = state.hold?.(options?.latest === true);
      return held ? held.then(read) : read();
    },
  };
  const createCredential = (_sp: ServicePrincipal, material: SecretValue | undefined, observer?: TokenEndpointObserver): TokenCredential => {
    state.built.push(material?.version);
    return { getToken: (_scopes, options) => (state.requests++, state.answer(material, options, observer)) };
  };
  const telemetry: Telemetry = {
    ...NO_TELEMETRY,
    stage: (stage, run) => (state.telemetry.push(`stage ${stage}`), run()),
    dependency: (dependency, operation, run) => (state.telemetry.push(`${dependency} ${operation}`), run()),
    cache: (cache, hit) => void state.telemetry.push(`${cache} ${hit ? 'hit' : 'miss'}`),
  };
  const minter = new EntraTokenMinter({ secrets, createCredential, clock: { now: () => state.now }, onOutcome: (ok) => state.outcomes.push(ok), telemetry, ...opts });
  return { state, minter };
}

const jwt = (exp: number | undefined) => new UnsecuredJWT(exp === undefined ? {} : { exp }).encode();

describe('EntraTokenMinter (scripted credential)', () => {
  it('tells the earlier of the credential\'s expiry and the token\'s own exp; an opaque token or one without exp keeps the credential\'s', async () => {
    for (const [token, expected] of [
      [jwt(2_000), 2_000_000], // exp before the credential's expiry
      [jwt(9_000), 4_600_000], // exp after it
      [jwt(undefined), 4_600_000],
      ['opaque', 4_600_000],
    ] as const) {
      const { state, minter } = world();
      state.answer = () => Promise.resolve({ token, expiresOnTimestamp: 4_600_000 });
      expect((await minter.getToken(secretSp, SCOPE, 0)).expiresOnMs).toBe(expected);
    }
  });

  it('serves the cached token while exactly the asked validity is left, and mints from the next millisecond on', async () => {
    const { state, minter } = world({ refreshAheadMs: 0 });
    let n = 0;
    state.answer = () => Promise.resolve({ token: `t${++n}`, expiresOnTimestamp: state.now + 600_000 });
    expect((await minter.getToken(secretSp, SCOPE, 600)).token).toBe('t1');
    expect((await minter.getToken(secretSp, SCOPE, 600)).token).toBe('t1');
    state.now += 1;
    expect((await minter.getToken(secretSp, SCOPE, 600)).token).toBe('t2');
    // Tokens are kept per scope.
    expect((await minter.getToken(secretSp, 'other/.default', 600)).token).toBe('t3');
    expect((await minter.getToken(secretSp, SCOPE, 600)).token).toBe('t2');
    // One credential for the SP serves every mint: no new one, no second read of the secret.
    expect(state.built).toEqual(['v1']);
    expect(state.reads).toEqual(['etl-sp-secret']);
  });

  it('reports cache hits and misses, one entra token span per request and the secret stage', async () => {
    const { state, minter } = world();
    await minter.getToken(secretSp, SCOPE, 300);
    await minter.getToken(secretSp, SCOPE, 300);
    expect(state.telemetry).toEqual(['sp_token miss', 'stage secret', 'entra token', 'sp_token hit']);
  });

  it('a token still too short-lived from a new credential is a 502 naming the validity asked for', async () => {
    const { state, minter } = world();
    state.answer = () => Promise.resolve({ token: 'short', expiresOnTimestamp: state.now + 60_000 });
    const err = await refused(minter.getToken(secretSp, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toBe('Entra ID issued a token for "etl-sp" that is valid for less than the 300 s asked for.');
    expect(state.built).toEqual(['v1', 'v1']); // the second attempt started from a new credential
  });

  it('a credential that returns no token is a 503, and counts as a failed outcome', async () => {
    const { state, minter } = world();
    state.answer = () => Promise.resolve(null);
    const err = await refused(minter.getToken(secretSp, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(state.outcomes).toEqual([false]);
    // What the operators' log says about it (the cause of the 503).
    expect(describeError(err).cause?.message).toBe('the credential returned no token');
  });

  it('refreshes in the background only within the refresh-ahead window (15 min by default), one refresh at a time', async () => {
    const { state, minter } = world();
    let n = 0;
    let release = (): void => undefined;
    state.answer = () => (++n === 1 ? Promise.resolve({ token: 't1', expiresOnTimestamp: state.now + 3_600_000 }) : new Promise((r) => (release = () => r({ token: `t${n}`, expiresOnTimestamp: state.now + 3_600_000 }))));
    await minter.getToken(secretSp, SCOPE, 300);
    // A refresh starts with a new credential, whose secret is read at once (synchronously).
    expect(state.reads).toHaveLength(1);
    state.now += 45 * 60_000 - 1; // 15 min and 1 ms left: outside the window
    expect((await minter.getToken(secretSp, SCOPE, 300)).token).toBe('t1');
    expect(state.reads).toHaveLength(1);
    state.now += 1; // exactly 15 min left: the refresh starts, the cached token is served meanwhile
    expect((await minter.getToken(secretSp, SCOPE, 300)).token).toBe('t1');
    expect(state.reads).toHaveLength(2);
    await vi.waitFor(() => expect(n).toBe(2));
    expect((await minter.getToken(secretSp, SCOPE, 300)).token).toBe('t1');
    expect(state.reads).toHaveLength(2); // the refresh in flight is shared: none started
    release();
    await vi.waitFor(async () => expect((await minter.getToken(secretSp, SCOPE, 300)).token).toBe('t2'));
  });

  it('federated SPs read no secret, and an invalid_client is not retried with a secret they do not have', async () => {
    const { state, minter } = world();
    state.answer = () => Promise.reject(invalidClient());
    const err = await refused(minter.getToken(federatedSp, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toContain('(invalid_client, AADSTS7000215)');
    expect(state.reads).toEqual([]);
    expect(state.built).toEqual([undefined]);
  });

  it('invalid_client with the same latest version keeps the credential; a new version that is refused too is a 502', async () => {
    const { state, minter } = world();
    state.answer = () => Promise.reject(invalidClient());
    await rejection(minter.getToken(secretSp, SCOPE, 300));
    expect(state.reads).toEqual(['etl-sp-secret', 'etl-sp-secret latest']);
    expect(state.built).toEqual(['v1']); // v1 is still the latest: no new credential, and no second request
    expect(state.requests).toBe(1);
    state.latest = { value: 's2', version: 'v2' };
    const err = await refused(minter.getToken(secretSp, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(state.built).toEqual(['v1', 'v2']);
    expect(state.outcomes).toEqual([false, false]);
  });

  it('a Key Vault failure is not kept: the next request reads the secret again', async () => {
    const { state, minter } = world();
    state.vault = new Error('vault down');
    await expect(minter.getToken(secretSp, SCOPE, 300)).rejects.toThrow();
    state.vault = { value: 's1', version: 'v1' };
    await expect(minter.getToken(secretSp, SCOPE, 300)).resolves.toHaveProperty('token', 'opaque');
    expect(state.reads).toEqual(['etl-sp-secret', 'etl-sp-secret']);
  });

  it('hands the credential an abort signal that fires at the deadline, and answers 503 then', async () => {
    const { state, minter } = world({ deadlineMs: 50 });
    let aborted: Promise<void> | undefined;
    state.answer = (_material, options) => {
      const signal = options?.abortSignal;
      aborted = new Promise((resolve) => signal?.addEventListener('abort', () => resolve()));
      return new Promise(() => undefined); // never answers
    };
    const err = await refused(minter.getToken(secretSp, SCOPE, 300));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Entra ID did not answer in time for service principal "etl-sp"; no token was issued.');
    // What the operators' log says of the cause: its name only.
    expect(describeError(err).cause).toEqual({ name: 'EntraDeadlineError' });
    await aborted;
    expect(state.reads).toEqual(['etl-sp-secret']); // only invalid_client leads to a read of the latest secret
    // No Retry-After from Entra ID: the next request goes out at once (and builds a new credential).
    state.answer = () => Promise.resolve({ token: 'after', expiresOnTimestamp: state.now + 3_600_000 });
    await expect(minter.getToken(secretSp, SCOPE, 300)).resolves.toHaveProperty('token', 'after');
    expect(state.built).toEqual(['v1', 'v1']);
  });

  it("a 429 holds requests back until exactly Entra ID's Retry-After has passed", async () => {
    const { state, minter } = world();
    state.answer = (_m, _o, observer) => throttle(observer, 429, '4');
    const err = await refused(minter.getToken(secretSp, SCOPE, 300));
    expect(err.retryAfterSeconds).toBe(4);
    expect(state.reads).toEqual(['etl-sp-secret']);
    state.answer = () => Promise.resolve({ token: 'later', expiresOnTimestamp: state.now + 3_600_000 });
    state.now += 3_999;
    expect((await refused(minter.getToken(secretSp, SCOPE, 300))).retryAfterSeconds).toBe(1);
    expect(state.requests).toBe(1);
    state.now += 1;
    await expect(minter.getToken(secretSp, SCOPE, 300)).resolves.toHaveProperty('token', 'later');
  });

  it('a throttled credential is dropped only if it is still the one in use, not one a rotation put in its place', async () => {
    const { state, minter } = world();
    let releaseA: () => void = () => undefined;
    // Scope A's request hangs on the v1 credential; scope B's is refused, and v2 replaces v1.
    state.answer = (material, _o, observer) => {
      if (material?.version === 'v2') return Promise.resolve({ token: 'v2-token', expiresOnTimestamp: state.now + 3_600_000 });
      if (state.requests === 1) return new Promise<never>((_, reject) => (releaseA = () => void throttle(observer, 429).catch(reject)));
      return Promise.reject(invalidClient());
    };
    const a = minter.getToken(secretSp, 'a/.default', 300);
    await vi.waitFor(() => expect(state.requests).toBe(1));
    state.latest = { value: 's2', version: 'v2' };
    await expect(minter.getToken(secretSp, 'b/.default', 300)).resolves.toHaveProperty('token', 'v2-token');
    expect(state.built).toEqual(['v1', 'v2']);
    releaseA();
    expect(await refused(a)).toBeInstanceOf(UpstreamUnavailableError);
    // The v2 credential is kept: a third scope needs no new one.
    await expect(minter.getToken(secretSp, 'c/.default', 300)).resolves.toHaveProperty('token', 'v2-token');
    expect(state.built).toEqual(['v1', 'v2']);
  });

  it('two requests on one credential both throttled: the second finds it already dropped and is told the Retry-After all the same', async () => {
    const { state, minter } = world();
    const release: Array<() => void> = [];
    state.answer = (_m, _o, observer) => new Promise<never>((_, reject) => release.push(() => void throttle(observer, 429, '3').catch(reject)));
    const a = minter.getToken(secretSp, 'a/.default', 300);
    const b = minter.getToken(secretSp, 'b/.default', 300);
    await vi.waitFor(() => expect(release).toHaveLength(2));
    release[0]();
    expect((await refused(a)).retryAfterSeconds).toBe(3);
    release[1]();
    const err = await refused(b);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Entra ID answered HTTP 429 for service principal "etl-sp"; no token was issued.');
    expect(err.retryAfterSeconds).toBe(3);
    // The dropped credential is replaced by a new one once the wait is over.
    state.now += 3_000;
    state.answer = () => Promise.resolve({ token: 'fresh', expiresOnTimestamp: state.now + 3_600_000 });
    await expect(minter.getToken(secretSp, 'b/.default', 300)).resolves.toHaveProperty('token', 'fresh');
    expect(state.built).toEqual(['v1', 'v1']);
  });

  it('a throttled credential whose rotation check found the same version is not dropped once a newer credential took its place', async () => {
    const { state, minter } = world();
    let releaseA: () => void = () => undefined;
    let openLatest: () => void = () => undefined;
    // 1: scope r, answered; 2: scope a, held, then throttled; 3: scope b, invalid_client; later ones answered.
    state.answer = (_m, _o, observer) => {
      const n = state.requests;
      if (n === 2) return new Promise<never>((_, reject) => (releaseA = () => void throttle(observer, 429).catch(reject)));
      if (n === 3) return Promise.reject(invalidClient());
      return Promise.resolve({ token: `t${n}`, expiresOnTimestamp: state.now + 3_600_000 });
    };
    await minter.getToken(secretSp, 'r/.default', 300);
    const a = minter.getToken(secretSp, 'a/.default', 300);
    await vi.waitFor(() => expect(state.requests).toBe(2));
    // b's invalid_client starts a read of the latest version, held here: the map now holds that check.
    state.hold = (latest) => (latest ? new Promise<void>((resolve) => (openLatest = resolve)) : undefined);
    const b = minter.getToken(secretSp, 'b/.default', 300);
    await vi.waitFor(() => expect(state.reads).toContain('etl-sp-secret latest'));
    state.hold = undefined;
    releaseA(); // a is throttled while the rotation check is still open
    expect(await refused(a)).toBeInstanceOf(UpstreamUnavailableError);
    // r enters its refresh window: the refresh starts from a new credential, which replaces the check.
    state.now += 45 * 60_000;
    expect((await minter.getToken(secretSp, 'r/.default', 300)).token).toBe('t1');
    openLatest(); // the check finds v1 again: it hands back the v1 credential a was throttled on
    await rejection(b);
    await vi.waitFor(async () => expect((await minter.getToken(secretSp, 'r/.default', 300)).token).not.toBe('t1'));
    expect(state.built).toEqual(['v1', 'v1']);
    // The new credential stays in use: another scope needs none of its own.
    await minter.getToken(secretSp, 'c/.default', 300);
    expect(state.built).toEqual(['v1', 'v1']);
  });

  it('a credential whose secret read failed is not dropped in place of a newer one built meanwhile', async () => {
    const { state, minter } = world();
    let failRead: (err: Error) => void = () => undefined;
    let n = 0;
    state.answer = () => Promise.resolve({ token: `t${++n}`, expiresOnTimestamp: state.now + 3_600_000 });
    await minter.getToken(secretSp, 'r1/.default', 300);
    await minter.getToken(secretSp, 'r2/.default', 300);
    expect(state.built).toEqual(['v1']);
    state.now += 45 * 60_000; // both tokens are now in their refresh window
    // r1's refresh builds a new credential whose secret read is held, then fails.
    state.hold = () => new Promise<void>((_, reject) => (failRead = reject));
    expect((await minter.getToken(secretSp, 'r1/.default', 300)).token).toBe('t1');
    state.hold = undefined;
    // r2's refresh builds another one meanwhile, which takes the first one's place.
    expect((await minter.getToken(secretSp, 'r2/.default', 300)).token).toBe('t2');
    await vi.waitFor(() => expect(state.reads).toHaveLength(3));
    failRead(new Error('vault down'));
    await vi.waitFor(() => expect(state.built).toEqual(['v1', 'v1']));
    await vi.waitFor(async () => expect((await minter.getToken(secretSp, 'r2/.default', 300)).token).toBe('t3'));
    // The credential built for r2 stays in use: another scope needs none of its own.
    await minter.getToken(secretSp, 'c/.default', 300);
    expect(state.built).toEqual(['v1', 'v1']);
  });
});
