/**
 * An in-memory cache whose loads are shared: while a key is being fetched, every caller for
 * that key waits on the same promise instead of sending its own request. Failures are not
 * cached. The keys are few (one per workspace and token kind), so it needs no eviction.
 */
export class SingleFlightCache<T> {
  readonly #entries = new Map<string, T>();
  readonly #inflight = new Map<string, Promise<T>>();

  async get(key: string, isFresh: (value: T) => boolean, load: () => Promise<T>): Promise<T> {
    const cached = this.#entries.get(key);
    if (cached !== undefined && isFresh(cached)) return cached;
    const pending = this.#inflight.get(key);
    if (pending) {
      const shared = await pending;
      if (isFresh(shared)) return shared;
    }
    return this.#load(key, load);
  }

  #load(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const loading = load()
      .then((value) => {
        this.#entries.set(key, value);
        return value;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, loading);
    return loading;
  }
}
