import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditUnavailableError } from '../../src/core/errors';
import { FixedAuditKey, VaultAuditKey } from '../../src/core/secrets';
import type { SecretSource, SecretValue } from '../../src/core/secrets';

// The audit key read from Key Vault: the poll that turns health ready without a request, what the
// problem names for each vault answer, and the Retry-After it hands a refused vend.
const KEY = Buffer.alloc(32, 9);
const parse = (value: string): Buffer | undefined => (value === 'good' ? KEY : undefined);

/** A vault of one secret: each read answers with what `next` says (a value, or an error to throw). */
function vault(next: () => string | Error) {
  const reads: ({ readonly latest?: boolean } | undefined)[] = [];
  const source: SecretSource = {
    get: (_name, options): Promise<SecretValue> => {
      reads.push(options);
      const answer = next();
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve({ value: answer, version: 'v', contentType: undefined });
    },
  };
  return { reads, source };
}

const failure = (statusCode?: unknown, asCause = true): Error =>
  asCause ? Object.assign(new Error('sanitized'), { cause: Object.assign(new Error('raw'), { statusCode }) }) : Object.assign(new Error('raw'), { statusCode });

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
};

describe('FixedAuditKey', () => {
  it('is always in hand', async () => {
    const key = new FixedAuditKey(KEY);
    expect(await key.current()).toBe(KEY);
    expect(key.problem()).toBeUndefined();
  });
});

describe('VaultAuditKey: what the problem names', () => {
  it('before any read: not read yet', () => {
    const key = new VaultAuditKey({ secrets: vault(() => 'good').source, secretName: 'hmac', parse });
    expect(key.problem()).toBe('audit key: Key Vault secret "hmac" (AUDIT_HMAC_SECRET_NAME) not read yet');
  });

  it.each<[string, Error, string]>([
    ['401 as the cause of a sanitized error', failure(401), `not readable by the app's identity (HTTP 401): check its "Key Vault Secrets User" role`],
    ['403 as the cause', failure(403), `not readable by the app's identity (HTTP 403): check its "Key Vault Secrets User" role`],
    ['404 on the error itself', failure(404, false), 'not found (HTTP 404): store it in the vault'],
    ['500', failure(500), 'could not be read (HTTP 500)'],
    ['no status', failure(undefined), 'could not be read (Key Vault unreachable)'],
    ['a status that is not a number', failure('404'), 'could not be read (Key Vault unreachable)'],
  ])('%s', async (_name, error, state) => {
    const key = new VaultAuditKey({ secrets: vault(() => error).source, secretName: 'hmac', parse });
    await expect(key.current()).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(key.problem()).toBe(`audit key: Key Vault secret "hmac" (AUDIT_HMAC_SECRET_NAME) ${state}`);
  });

  it('tells onChange only when the problem changes', async () => {
    let answer: string | Error = failure(404);
    const changes: (string | undefined)[] = [];
    const clock = { t: 0, now: () => clock.t };
    const key = new VaultAuditKey({ secrets: vault(() => answer).source, secretName: 'hmac', parse, clock, retryMs: 1_000, onChange: (p) => changes.push(p) });
    for (const next of [failure(404), failure(404), 'bad', 'bad', 'good']) {
      answer = next;
      clock.t += 1_000;
      await key.current().catch(() => undefined);
    }
    expect(changes).toEqual([expect.stringContaining('not found'), expect.stringContaining('holds no valid key'), undefined]);
  });

  it('without an onChange listener, a value that is no key is still named as such (nothing else fails on the way)', async () => {
    const key = new VaultAuditKey({ secrets: vault(() => 'bad').source, secretName: 'hmac', parse });
    await expect(key.current()).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(key.problem()).toBe('audit key: Key Vault secret "hmac" (AUDIT_HMAC_SECRET_NAME) holds no valid key (base64 of at least 32 bytes)');
  });
});

describe('VaultAuditKey: reads and Retry-After', () => {
  it('reads the latest version until a key is in hand, then the cached secret', async () => {
    let answer: string | Error = failure(404);
    const { reads, source } = vault(() => answer);
    const clock = { t: 0, now: () => clock.t };
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, clock, retryMs: 1_000 });
    await key.current().catch(() => undefined);
    answer = 'good';
    clock.t = 1_000;
    expect(await key.current()).toBe(KEY);
    expect(await key.current()).toBe(KEY);
    expect(reads).toEqual([{ latest: true }, { latest: true }, undefined]);
  });

  it('asks the vault again once the retry interval is over, to the millisecond', async () => {
    const { reads, source } = vault(() => failure(404));
    const clock = { t: 0, now: () => clock.t };
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, clock, retryMs: 5_000 });
    await key.current().catch(() => undefined);
    clock.t = 4_999;
    expect(((await key.current().catch((e: unknown) => e)) as AuditUnavailableError).retryAfterSeconds).toBe(1);
    expect(reads).toHaveLength(1);
    clock.t = 5_000;
    expect(((await key.current().catch((e: unknown) => e)) as AuditUnavailableError).retryAfterSeconds).toBe(5);
    expect(reads).toHaveLength(2);
  });

  it('waits 5 s between reads by default, and never answers a Retry-After under 1 s', async () => {
    const { reads, source } = vault(() => failure(500));
    const clock = { t: 0, now: () => clock.t };
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, clock });
    expect(((await key.current().catch((e: unknown) => e)) as AuditUnavailableError).retryAfterSeconds).toBe(5);
    clock.t = 4_999;
    await key.current().catch(() => undefined);
    expect(reads).toHaveLength(1);
    const eager = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, clock, retryMs: 0 });
    expect(((await eager.current().catch((e: unknown) => e)) as AuditUnavailableError).retryAfterSeconds).toBe(1);
  });

  it('the unavailable error carries the problem, never a value', async () => {
    const key = new VaultAuditKey({ secrets: vault(() => 'not-a-key-value').source, secretName: 'hmac', parse });
    const err = (await key.current().catch((e: unknown) => e)) as AuditUnavailableError;
    expect(err).toBeInstanceOf(AuditUnavailableError);
    expect(String((err.cause as Error).message)).toBe(key.problem());
    expect(JSON.stringify({ m: err.message, d: err.detail, c: (err.cause as Error).message })).not.toContain('not-a-key-value');
  });
});

describe('VaultAuditKey.start: the poll', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads at once, then every 30 s by default while the key is missing, and stops once it is read', async () => {
    let answer: string | Error = failure(404);
    const { reads, source } = vault(() => answer);
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse }).start();
    await settle();
    expect(reads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(reads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(reads).toHaveLength(2);
    answer = 'good';
    await vi.advanceTimersByTimeAsync(30_000);
    expect(key.problem()).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(90_000);
    expect(reads).toHaveLength(3);
  });

  it('a poll interval of its own; stop() ends it', async () => {
    const { reads, source } = vault(() => failure(404));
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, pollMs: 1_000 }).start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(reads).toHaveLength(3);
    key.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reads).toHaveLength(3);
  });

  it('started with the key already in hand (and the vault failing): the poll ends at its first tick without a read', async () => {
    let answer: string | Error = 'good';
    const { reads, source } = vault(() => answer);
    const key = new VaultAuditKey({ secrets: source, secretName: 'hmac', parse, retryMs: 0 });
    expect(await key.current()).toBe(KEY);
    answer = failure(500);
    key.start();
    await settle();
    const before = reads.length;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reads.length - before).toBe(0);
    expect(key.problem()).toBeUndefined();
    expect(await key.current()).toBe(KEY);
  });
});
