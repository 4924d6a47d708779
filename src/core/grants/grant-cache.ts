import type { Clock, CompiledGrants } from '../policy';
import { compileGrant, indexGrants } from '../policy';
import type { GrantStore } from './grant-store';
import { apiGrantSchema } from './grant-types';
import type { ApiGrant } from './grant-types';

export type GrantsHealth = 'ok' | 'stale' | 'failing' | 'unknown';

export interface GrantCacheOptions {
  readonly store: GrantStore;
  /** The config document's grants, compiled: always admitted, whatever the table does. */
  readonly configGrants: CompiledGrants;
  readonly homeTenantId: string;
  readonly clock: Clock;
  readonly refreshMs: number;
  /** How long the last good read is trusted while the table cannot be read; then API grants admit nobody. */
  readonly maxStaleMs: number;
  readonly onRefreshError?: (err: unknown) => void;
}

/**
 * The grants every vend matches against, held in memory: the config grants plus the API grants
 * read in the background (every `refreshMs`, and at once after a change through this instance).
 * A vend never waits on the table: `current()` is a couple of comparisons unless a grant expired
 * or the last good read went stale since the previous call.
 */
export class GrantCache {
  #api: ApiGrant[] = [];
  #lastGoodAt: number | undefined;
  #lastFailed = false;
  #view: CompiledGrants;
  #validUntil = 0;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Changes made through this instance, by sequence number: a read that began before one must not undo it. */
  #local = new Map<string, { grant: ApiGrant; seq: number }>();
  #seq = 0;

  constructor(private readonly options: GrantCacheOptions) {
    this.#view = options.configGrants;
  }

  /** First read now, then on the interval; the timer never keeps a process alive. */
  start(): this {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  current(): CompiledGrants {
    const now = this.options.clock.now();
    if (now >= this.#validUntil) this.#rebuild(now);
    return this.#view;
  }

  /** One read at a time; a failure keeps the last good set (its age decides whether it still admits). */
  refresh(): Promise<void> {
    const startedAt = this.#seq;
    this.#refreshing ??= this.options.store
      .list('grant', apiGrantSchema)
      .then(
        (rows) => {
          // A change made here before this read began is in its rows; only later ones stay over them.
          for (const [id, l] of this.#local) if (l.seq <= startedAt) this.#local.delete(id);
          const newer = [...this.#local.values()].map((l) => l.grant);
          this.#api = [...rows.map((r) => r.item).filter((g) => !newer.some((n) => n.id === g.id)), ...newer];
          this.#lastGoodAt = this.options.clock.now();
          this.#lastFailed = false;
          this.#validUntil = 0;
        },
        (err: unknown) => {
          this.#lastFailed = true;
          this.options.onRefreshError?.(err);
        },
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** A change made through this instance counts at once, then a read confirms it. */
  applyLocal(grant: ApiGrant): void {
    this.#local.set(grant.id, { grant, seq: ++this.#seq });
    this.#api = [...this.#api.filter((g) => g.id !== grant.id), grant];
    this.#validUntil = 0;
    // Confirm with a read that starts after the change (after any read already under way).
    const pending = this.#refreshing ?? Promise.resolve();
    void pending.then(() => this.refresh());
  }

  health(): GrantsHealth {
    if (this.#lastGoodAt === undefined) return this.#lastFailed ? 'failing' : 'unknown';
    if (this.options.clock.now() - this.#lastGoodAt > this.options.maxStaleMs) return 'failing';
    return this.#lastFailed ? 'stale' : 'ok';
  }

  #rebuild(now: number): void {
    const { configGrants, homeTenantId, maxStaleMs } = this.options;
    const trusted = this.#lastGoodAt !== undefined && now - this.#lastGoodAt <= maxStaleMs;
    // Past the bound, API grants admit nobody until a read succeeds (fail closed); config grants stay.
    const active = trusted ? this.#api.filter((g) => g.state === 'active' && Date.parse(g.expiresAt) > now) : [];
    this.#view = indexGrants([...configGrants.all, ...active.map((g) => compileGrant(g, homeTenantId, g.id, Date.parse(g.expiresAt)))]);
    const nextExpiry = Math.min(...active.map((g) => Date.parse(g.expiresAt)));
    this.#validUntil = trusted ? Math.min(nextExpiry, (this.#lastGoodAt as number) + maxStaleMs + 1) : Number.POSITIVE_INFINITY;
  }
}
