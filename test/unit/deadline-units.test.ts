import { describe, expect, it } from 'vitest';
import { boundedCall, budgetLeftMs, deadlinesFor, DEFAULT_BUDGET_MS, raceDeadline, requestBudget, retryAfterFor } from '../../src/core/deadline';
import { UpstreamUnavailableError } from '../../src/core/errors';

/** A promise that never settles: the deadline, not the work, must end the wait. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe('raceDeadline', () => {
  it('returns the work when it settles first, and rejects with the timeout error when it does not', async () => {
    await expect(raceDeadline(Promise.resolve('done'), 5_000, () => new Error('late'))).resolves.toBe('done');
    await expect(raceDeadline(never(), 20, () => new Error('late'))).rejects.toThrow('late');
  });

  it('passes the work through unbounded for an infinite deadline', async () => {
    let settle: (v: string) => void = () => undefined;
    const work = new Promise<string>((r) => (settle = r));
    const raced = raceDeadline(work, Number.POSITIVE_INFINITY, () => new Error('late'));
    expect(raced).toBe(work);
    settle('eventually');
    await expect(raced).resolves.toBe('eventually');
  });

  it('treats a negative deadline as already passed', async () => {
    await expect(raceDeadline(never(), -50, () => new Error('late'))).rejects.toThrow('late');
  });

  it('swallows a late failure of the abandoned work (no unhandled rejection)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail: (e: Error) => void = () => undefined;
      const work = new Promise<string>((_, reject) => (fail = reject));
      await expect(raceDeadline(work, 10, () => new Error('late'))).rejects.toThrow('late');
      fail(new Error('abandoned work failed'));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('request budget', () => {
  it('is infinite without a request and counts down from when a request budget starts', async () => {
    expect(budgetLeftMs(undefined)).toBe(Number.POSITIVE_INFINITY);
    const budget = requestBudget(10_000);
    expect(budgetLeftMs(budget)).toBeLessThanOrEqual(10_000);
    expect(budgetLeftMs(budget)).toBeGreaterThan(9_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(budgetLeftMs(budget)).toBeLessThanOrEqual(9_975);
  });

  it('without a budget a call is bounded by its own deadline only', async () => {
    await expect(boundedCall('Key Vault', () => Promise.resolve('x'), { callMs: 5_000, retryAfterSeconds: 1, reserveMs: 2_000 })).resolves.toBe('x');
    const err = await boundedCall('Key Vault', never, { callMs: 40, retryAfterSeconds: 1, reserveMs: 2_000 }).catch((e: unknown) => e);
    expect((err as UpstreamUnavailableError).detail).toBe('Key Vault did not answer within 40 ms; no token was issued.');
  });

  it('fails a call at once with 503 upstream_unavailable and the given Retry-After when the budget is spent', async () => {
    let started = false;
    const err = await boundedCall('Key Vault', () => ((started = true), Promise.resolve('x')), { callMs: 5_000, retryAfterSeconds: 7, budget: requestBudget(-1) }).catch((e: unknown) => e);
    expect(started).toBe(false);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    const e = err as UpstreamUnavailableError;
    expect(e.status).toBe(503);
    expect(e.code).toBe('upstream_unavailable');
    expect(e.retryAfterSeconds).toBe(7);
    expect(e.detail).toMatch(/^Key Vault did not answer within 0 ms; no token was issued\.$/);
  });

  it('keeps the reserve back: a budget no larger than the reserve allows no call', async () => {
    let started = false;
    const err = await boundedCall('Databricks', () => ((started = true), Promise.resolve('x')), { callMs: 5_000, retryAfterSeconds: 3, reserveMs: 2_000, budget: requestBudget(2_000) }).catch(
      (e: unknown) => e,
    );
    expect(started).toBe(false);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
  });

  it('bounds a call by what is left of the budget minus the reserve, not by its own longer deadline', async () => {
    const err = await boundedCall('Entra ID', never, { callMs: 60_000, retryAfterSeconds: 9, reserveMs: 2_000, budget: requestBudget(2_150) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as UpstreamUnavailableError).retryAfterSeconds).toBe(9);
    // At most 150 ms were left for the call.
    expect((err as UpstreamUnavailableError).detail).toMatch(/^Entra ID did not answer within (\d|[1-9]\d|1[0-4]\d|150) ms; no token was issued\.$/);
  });

  it('bounds a call by its own deadline and names it in seconds from 1 s up', async () => {
    const short = await boundedCall('Databricks workspace "prod"', never, { callMs: 30, retryAfterSeconds: 1 }).catch((e: unknown) => e);
    expect((short as UpstreamUnavailableError).detail).toBe('Databricks workspace "prod" did not answer within 30 ms; no token was issued.');
    const long = await boundedCall('Key Vault', never, { callMs: 1_000, retryAfterSeconds: 1 }).catch((e: unknown) => e);
    expect((long as UpstreamUnavailableError).detail).toBe('Key Vault did not answer within 1 s; no token was issued.');
    await expect(boundedCall('Key Vault', () => Promise.resolve(42), { callMs: 1_000, retryAfterSeconds: 1 })).resolves.toBe(42);
  });

  it('rounds longer deadlines to a tenth of a second', async () => {
    const err = await boundedCall('Key Vault', never, { callMs: 1_250, retryAfterSeconds: 2 }).catch((e: unknown) => e);
    expect((err as UpstreamUnavailableError).detail).toBe('Key Vault did not answer within 1.3 s; no token was issued.');
  });

  it('passes the work\'s own failure through unchanged', async () => {
    const own = new Error('own failure');
    await expect(boundedCall('Key Vault', () => Promise.reject(own), { callMs: 1_000, retryAfterSeconds: 1 })).rejects.toBe(own);
  });
});

describe('deadlinesFor / retryAfterFor', () => {
  it('gives every upstream call a share of the budget that leaves room to record a refusal', () => {
    expect(DEFAULT_BUDGET_MS).toBe(20_000);
    const d = deadlinesFor();
    expect(d).toEqual({ budgetMs: 20_000, signingKeysMs: 5_000, keyVaultMs: 8_000, entraMs: 10_000, databricksMs: 10_000, auditMs: 4_000, orphanRevokeMs: 5_000 });
    // A call before the audit write plus the audit reserve fits in the budget.
    expect(d.databricksMs + d.auditMs).toBeLessThan(d.budgetMs);
    expect(deadlinesFor(1_000)).toEqual({ budgetMs: 1_000, signingKeysMs: 250, keyVaultMs: 400, entraMs: 500, databricksMs: 500, auditMs: 200, orphanRevokeMs: 250 });
    expect(deadlinesFor(3).keyVaultMs).toBe(1);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfterFor(0)).toBe(1);
    expect(retryAfterFor(1)).toBe(1);
    expect(retryAfterFor(1_000)).toBe(1);
    expect(retryAfterFor(1_001)).toBe(2);
    expect(retryAfterFor(10_000)).toBe(10);
  });
});
