import type { Clock } from '../policy';
import { systemClock } from '../policy';

export interface CachedToken {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresOnMs: number;
}

/**
 * Tokens by key, one mint in flight per key (single-flight), bounded in size. The key is the
 * whole identity of a token — for oauth (caller, SP, workspace, scope set), for user the caller —
 * so one caller's token is never handed to another.
 */
export class KeyedTokenCache<T extends CachedToken> {
  readonly #tokens = new Map<string, T>();
  readonly #inflight = new Map<string, Promise<T>>();

  constructor(private readonly clock: Clock = systemClock, private readonly maxEntries = 10_000) {}

  async get(key: string, minValiditySeconds: number, mint: () => Promise<T>): Promise<T> {
    const cached = this.#tokens.get(key);
    if (cached && this.#fresh(cached, minValiditySeconds)) return cached;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = mint()
        .then((token) => (this.#store(key, token), token))
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  get size(): number {
    return this.#tokens.size;
  }

  #fresh(token: T, minValiditySeconds: number): boolean {
    return token.expiresOnMs - this.clock.now() >= minValiditySeconds * 1000;
  }

  #store(key: string, token: T): void {
    if (this.#tokens.size >= this.maxEntries && !this.#tokens.has(key)) {
      for (const [k, t] of this.#tokens) if (!this.#fresh(t, 0)) this.#tokens.delete(k);
      // Still full of live tokens: drop the oldest insertion rather than grow without bound.
      if (this.#tokens.size >= this.maxEntries) this.#tokens.delete(this.#tokens.keys().next().value as string);
    }
    this.#tokens.set(key, token);
  }
}
