import { UpstreamUnavailableError } from '../errors';

/**
 * Deadlines enforced by the service itself: a race against a timer. A signal handed to an SDK
 * is a courtesy the SDK may ignore (the MSAL-based credentials do); the race is what bounds the
 * caller's wait. The raced work is not cancelled: it may finish in the background and fill a
 * cache, and its late failure is swallowed here so it never becomes an unhandled rejection.
 */
export function raceDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!Number.isFinite(ms)) {
    work.catch(() => undefined);
    return work;
  }
  // One promise and one timer per call (this runs several times per vend): whichever settles it first wins.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the work's own failure, passed on unchanged
        reject(err);
      },
    );
  });
}

/**
 * When one request's overall budget ends (epoch ms, DESIGN §7). It travels with the request's own
 * deps (`VendDeps.forRequest`), not in async context: an AsyncLocalStorage would switch on
 * promise hooks for every promise in the process, which cost a warm vend about an eighth of its CPU.
 */
export interface RequestBudget {
  readonly endsAt: number;
}

/** A budget of `budgetMs` from now. */
export function requestBudget(budgetMs: number): RequestBudget {
  return { endsAt: Date.now() + budgetMs };
}

/** Milliseconds left of a budget; without one (start-up, cleanup) there is no limit. */
export function budgetLeftMs(budget: RequestBudget | undefined): number {
  return budget ? budget.endsAt - Date.now() : Number.POSITIVE_INFINITY;
}

/**
 * Bounds one upstream call by its own deadline and by what is left of the request's budget.
 * Past either, the caller gets 503 upstream_unavailable; `retryAfterSeconds` must be a time after
 * which a retry really starts a fresh attempt (the abandoned call has passed its own deadline).
 */
export function boundedCall<T>(what: string, work: () => Promise<T>, limits: { callMs: number; retryAfterSeconds: number; reserveMs?: number; budget?: RequestBudget }): Promise<T> {
  const { callMs, retryAfterSeconds, reserveMs = 0, budget } = limits;
  const ms = Math.min(callMs, budgetLeftMs(budget) - reserveMs);
  const fail = (): Error => new UpstreamUnavailableError(`${what} did not answer within ${describeMs(ms)}; no token was issued.`, undefined, retryAfterSeconds);
  if (ms <= 0) return Promise.reject(fail());
  return raceDeadline(work(), ms, fail);
}

function describeMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.max(0, Math.round(ms))} ms`;
}
