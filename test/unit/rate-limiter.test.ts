import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors';
import { RateLimiter } from '../../src/core/policy';

function refusal(fn: () => void): RateLimitedError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof RateLimitedError) return err;
    throw err;
  }
}

describe('RateLimiter under a flood of identities', () => {
  it('keeps a caller at its limit limited while other identities fill the table (none expired)', () => {
    let now = 5_000_000;
    const limiter = new RateLimiter(2, { now: () => now }, 100);
    limiter.take('victim');
    limiter.take('victim');
    expect(refusal(() => limiter.take('victim'))).toBeInstanceOf(RateLimitedError);
    // Ten times the bound of fresh identities, all inside the same minute.
    for (let i = 0; i < 1_000; i++) {
      now += 1;
      limiter.take(`flood-${i}`);
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
    const still = refusal(() => limiter.take('victim'));
    expect(still).toBeInstanceOf(RateLimitedError);
    expect(still?.retryAfterSeconds).toBe(59);
  });

  it('evicts the least recently used windows first, not the recently used ones', () => {
    let now = 0;
    const limiter = new RateLimiter(3, { now: () => now }, 10);
    for (let i = 0; i < 10; i++) limiter.take(`c${i}`);
    // c0 is used again: it is now the most recent, c1 the least recent.
    limiter.take('c0');
    now += 1;
    limiter.take('new');
    expect(limiter.size).toBe(10);
    // c0 kept its count (2 so far): one more is allowed, the next is refused.
    limiter.take('c0');
    expect(refusal(() => limiter.take('c0'))).toBeInstanceOf(RateLimitedError);
    // c1 was evicted: it starts afresh with a full allowance of 3.
    for (let i = 0; i < 3; i++) limiter.take('c1');
    expect(refusal(() => limiter.take('c1'))).toBeInstanceOf(RateLimitedError);
  });

  it('drops expired windows before any live one, and only when the bound is reached', () => {
    let now = 0;
    const limiter = new RateLimiter(3, { now: () => now }, 20);
    limiter.take('old');
    now = 30_000;
    for (let i = 0; i < 19; i++) limiter.take(`live-${i}`);
    expect(limiter.size).toBe(20);
    now = 60_000; // 'old' expired, the others did not
    limiter.take('new');
    expect(limiter.size).toBe(20);
    // Every live window kept its count of 1: two more are allowed, the third is refused.
    for (let i = 0; i < 19; i++) {
      limiter.take(`live-${i}`);
      limiter.take(`live-${i}`);
      expect(refusal(() => limiter.take(`live-${i}`)), `live-${i}`).toBeInstanceOf(RateLimitedError);
    }
  });

  it('keeps a caller that has used exactly its allowance (not yet refused) through a flood', () => {
    let now = 0;
    const limiter = new RateLimiter(2, { now: () => now }, 50);
    limiter.take('exact');
    limiter.take('exact');
    for (let i = 0; i < 500; i++) {
      now += 1;
      limiter.take(`f${i}`);
    }
    expect(refusal(() => limiter.take('exact'))).toBeInstanceOf(RateLimitedError);
  });

  it('when every tracked caller is at its limit, still stays bounded', () => {
    const now = 0;
    const limiter = new RateLimiter(1, { now: () => now }, 20);
    for (let i = 0; i < 200; i++) {
      limiter.take(`k${i}`);
      expect(refusal(() => limiter.take(`k${i}`))).toBeInstanceOf(RateLimitedError);
    }
    expect(limiter.size).toBeLessThanOrEqual(20);
    expect(refusal(() => limiter.take('k199'))).toBeInstanceOf(RateLimitedError);
  });

  it('answers Retry-After as the seconds left in the window, rounded up, and a window lasts exactly one minute', () => {
    let now = 1_000;
    const limiter = new RateLimiter(1, { now: () => now });
    limiter.take('a');
    now += 100;
    expect(refusal(() => limiter.take('a'))?.retryAfterSeconds).toBe(60);
    now = 1_000 + 59_999;
    expect(refusal(() => limiter.take('a'))?.retryAfterSeconds).toBe(1);
    now = 1_000 + 60_000;
    expect(refusal(() => limiter.take('a'))).toBeUndefined();
    const err = refusal(() => limiter.take('a'));
    expect(err?.detail).toBe('At most 1 requests per minute per caller.');
  });
});
