import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/policy';

describe('RateLimiter: the sweep', () => {
  it('leaves expired windows in place until the bound is reached (no sweep per new caller)', () => {
    let now = 0;
    const limiter = new RateLimiter(5, { now: () => now }, 3);
    limiter.take('a');
    now = 60_000;
    limiter.take('b');
    expect(limiter.size).toBe(2);
    limiter.take('c');
    expect(limiter.size).toBe(3);
    limiter.take('d'); // bound reached: the expired window of 'a' goes, no live one
    expect(limiter.size).toBe(3);
  });
});
