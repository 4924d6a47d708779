import { RateLimitedError } from '../errors';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Fixed one-minute window per caller. Bounded: at most `maxCallers` windows are kept, and
 * expired ones are swept when the bound is reached, so a flood of identities cannot grow memory.
 */
export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock = systemClock,
    private readonly maxCallers = 50_000,
  ) {}

  take(callerKey: string): void {
    const now = this.clock.now();
    let window = this.#windows.get(callerKey);
    if (!window || now - window.start >= 60_000) {
      if (!window && this.#windows.size >= this.maxCallers) this.#sweep(now);
      window = { start: now, count: 0 };
      this.#windows.set(callerKey, window);
    }
    window.count += 1;
    if (window.count > this.perMinute) {
      throw new RateLimitedError({
        detail: `At most ${this.perMinute} requests per minute per caller.`,
        retryAfterSeconds: Math.ceil((window.start + 60_000 - now) / 1000),
      });
    }
  }

  #sweep(now: number): void {
    for (const [key, w] of this.#windows) if (now - w.start >= 60_000) this.#windows.delete(key);
    if (this.#windows.size >= this.maxCallers) this.#windows.clear();
  }
}
