import { describe, expect, it } from 'vitest';
import { parseAuditKey } from '../../src/core/config';
import { AuditUnavailableError, UpstreamRejectedError } from '../../src/core/errors';
import { VaultAuditKey } from '../../src/core/secrets';
import type { SecretSource, SecretValue } from '../../src/core/secrets';

const KEY = Buffer.alloc(32, 9);
const ROTATED = Buffer.alloc(32, 4);

/** A vault of one secret that may be missing, with a count of reads. */
function vault() {
  const state = { value: undefined as string | undefined, reads: 0, status: 404 };
  const source: SecretSource = {
    get: (): Promise<SecretValue> => {
      state.reads++;
      if (state.value === undefined) {
        return Promise.reject(new UpstreamRejectedError({ detail: 'not in vault', cause: Object.assign(new Error('raw'), { statusCode: state.status }) }));
      }
      return Promise.resolve({ value: state.value, version: 'v1', contentType: undefined });
    },
  };
  return { state, source };
}

function keySource(source: SecretSource, extra: { unresolvedReference?: boolean } = {}) {
  const clock = { t: 1_000_000, now: () => clock.t };
  const changes: (string | undefined)[] = [];
  const key = new VaultAuditKey({ secrets: source, secretName: 'audit-hmac-key', parse: parseAuditKey, clock, retryMs: 5_000, onChange: (p) => changes.push(p), ...extra });
  return { key, clock, changes };
}

describe('audit key from Key Vault (VaultAuditKey)', () => {
  it('answers 503 with Retry-After while the secret is missing, then uses it once stored, without a restart', async () => {
    const { state, source } = vault();
    const { key, clock, changes } = keySource(source);
    const first = await key.current().catch((err: unknown) => err);
    expect(first).toBeInstanceOf(AuditUnavailableError);
    expect((first as AuditUnavailableError).retryAfterSeconds).toBe(5);
    expect(key.problem()).toBe('audit key: Key Vault secret "audit-hmac-key" (AUDIT_HMAC_SECRET_NAME) not found (HTTP 404): store it in the vault');

    // Within the retry interval the vault is not asked again; Retry-After counts down.
    state.value = KEY.toString('base64');
    clock.t += 2_000;
    const early = await key.current().catch((err: unknown) => err);
    expect((early as AuditUnavailableError).retryAfterSeconds).toBe(3);
    expect(state.reads).toBe(1);

    clock.t += 3_000;
    expect(await key.current()).toEqual(KEY);
    expect(key.problem()).toBeUndefined();
    expect(changes).toHaveLength(2);
    expect(changes[0]).toContain('not found');
    expect(changes[1]).toBeUndefined();
  });

  it('names a refused read and a value that is not a key, never the value', async () => {
    const { state, source } = vault();
    state.status = 403;
    const { key, clock } = keySource(source);
    await expect(key.current()).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(key.problem()).toContain('not readable by the app\'s identity (HTTP 403)');

    state.value = 'c2hvcnQ=';
    clock.t += 5_000;
    await expect(key.current()).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(key.problem()).toBe('audit key: Key Vault secret "audit-hmac-key" (AUDIT_HMAC_SECRET_NAME) holds no valid key (base64 of at least 32 bytes)');
    expect(key.problem()).not.toContain('c2hvcnQ');
  });

  it('reports an unresolved @Microsoft.KeyVault reference as exactly that', async () => {
    const { source } = vault();
    const { key } = keySource(source, { unresolvedReference: true });
    await expect(key.current()).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(key.problem()).toMatch(/^audit key: AUDIT_HMAC_KEY is an unresolved Key Vault reference \(@Microsoft\.KeyVault\(\.\.\.\) text, not a key\), so it is not used; Key Vault secret "audit-hmac-key"/);
  });

  it('follows a rotated secret and keeps the last good key when a new value is invalid or the vault fails', async () => {
    const { state, source } = vault();
    state.value = KEY.toString('base64');
    const { key } = keySource(source);
    expect(await key.current()).toEqual(KEY);
    state.value = ROTATED.toString('base64');
    expect(await key.current()).toEqual(ROTATED);
    state.value = 'not a key';
    expect(await key.current()).toEqual(ROTATED);
    state.value = undefined;
    expect(await key.current()).toEqual(ROTATED);
    expect(key.problem()).toBeUndefined();
  });

  it('shares one vault read between concurrent first requests', async () => {
    const { state, source } = vault();
    state.value = KEY.toString('base64');
    const { key } = keySource(source);
    const keys = await Promise.all([key.current(), key.current(), key.current()]);
    expect(keys).toEqual([KEY, KEY, KEY]);
    expect(state.reads).toBe(1);
  });
});

describe('arriving(): a read of the key under way, the key not yet in hand', () => {
  it('is true during the first read, false once the key is in hand, false while it is known missing', async () => {
    let answer: (v: SecretValue) => void = () => undefined;
    let fail: (e: unknown) => void = () => undefined;
    const gets: Promise<SecretValue>[] = [];
    const source: SecretSource = {
      get: () => {
        const p = new Promise<SecretValue>((res, rej) => ((answer = res), (fail = rej)));
        gets.push(p);
        return p;
      },
    };
    const { key, clock } = keySource(source);
    expect(key.arriving()).toBe(false);
    const first = key.current().catch((err: unknown) => err);
    expect(key.arriving()).toBe(true);
    fail(new UpstreamRejectedError({ detail: 'not in vault', cause: Object.assign(new Error('raw'), { statusCode: 404 }) }));
    expect(await first).toBeInstanceOf(AuditUnavailableError);
    expect(key.arriving()).toBe(false);
    clock.t += 5_000;
    const second = key.current();
    expect(key.arriving()).toBe(true);
    answer({ value: KEY.toString('base64'), version: 'v1', contentType: undefined });
    expect(await second).toEqual(KEY);
    expect(key.arriving()).toBe(false);
    expect(gets).toHaveLength(2);
  });
});
