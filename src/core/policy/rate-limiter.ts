import { RateLimitedError } from '../errors';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

const WINDOW_MS = 60_000;

interface Window {
  readonly start: number;
  count: number;
}

/**
 * Fixed one-minute window per caller. Bounded: at most `maxCallers` windows are kept, so a flood
 * of identities cannot grow memory. When the bound is reached, expired windows go first, then the
 * least recently used windows of callers below their limit, and only then (a flood of
 * identities each at its limit) the least recently used of the rest. A caller at its limit is
 * therefore never handed a fresh window because others flooded in.
 */
export class RateLimiter {
  // Map order is recency order: a window is re-inserted each time it is used.
  readonly #windows = new Map<string, Window>();
  readonly #evictTo: number;

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock = systemClock,
    private readonly maxCallers = 50_000,
  ) {
    // Evicting a tenth at a time keeps the cost of a sweep amortised over many new callers.
    this.#evictTo = Math.floor(maxCallers * 0.9);
  }

  take(callerKey: string): void {
    const now = this.clock.now();
    let window = this.#windows.get(callerKey);
    this.#windows.delete(callerKey);
    if (!window || now - window.start >= WINDOW_MS) {
      if (this.#windows.size >= this.maxCallers) this.#evict(now);
      window = { start: now, count: 0 };
    }
    this.#windows.set(callerKey, window);
    window.count += 1;
    if (window.count > this.perMinute) {
      throw new RateLimitedError({
        detail: `At most ${this.perMinute} requests per minute per caller.`,
        retryAfterSeconds: Math.ceil((window.start + WINDOW_MS - now) / 1000),
      });
    }
  }

  /** How many callers have a window (for tests and health; never the keys themselves). */
  get size(): number {
    return this.#windows.size;
  }

  #evict(now: number): void {
    for (const [key, w] of this.#windows) if (now - w.start >= WINDOW_MS) this.#windows.delete(key);
    if (this.#windows.size < this.maxCallers) return;
    this.#evictWhile((w) => w.count < this.perMinute);
    this.#evictWhile(() => true);
  }

  /** Drops matching windows, least recently used first, until the map is back under the bound. */
  #evictWhile(match: (w: Window) => boolean): void {
    for (const [key, w] of this.#windows) {
      if (this.#windows.size <= this.#evictTo) return;
      if (match(w)) this.#windows.delete(key);
    }
  }
}
