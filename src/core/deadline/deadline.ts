import { AsyncLocalStorage } from 'node:async_hooks';
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

const budgets = new AsyncLocalStorage<{ readonly endsAt: number }>();

/** Runs one request under an overall budget; every upstream call inside it is bounded by what is left. */
export function withRequestBudget<T>(budgetMs: number, run: () => Promise<T>): Promise<T> {
  return budgets.run({ endsAt: Date.now() + budgetMs }, run);
}

/** Runs work that must not be cut short by a spent request budget (cleanup after a failure). */
export function outsideBudget<T>(run: () => Promise<T>): Promise<T> {
  return budgets.exit(run);
}

/** Milliseconds left of the current request's budget (Infinity outside a request). */
export function budgetLeftMs(): number {
  const budget = budgets.getStore();
  return budget ? budget.endsAt - Date.now() : Number.POSITIVE_INFINITY;
}

/**
 * Bounds one upstream call by its own deadline and by what is left of the request's budget.
 * Past either, the caller gets 503 upstream_unavailable; `retryAfterSeconds` must be a time after
 * which a retry really starts a fresh attempt (the abandoned call has passed its own deadline).
 */
export function boundedCall<T>(what: string, work: () => Promise<T>, limits: { callMs: number; retryAfterSeconds: number; reserveMs?: number }): Promise<T> {
  const { callMs, retryAfterSeconds, reserveMs = 0 } = limits;
  const ms = Math.min(callMs, budgetLeftMs() - reserveMs);
  const fail = (): Error => new UpstreamUnavailableError(`${what} did not answer within ${describeMs(ms)}; no token was issued.`, undefined, retryAfterSeconds);
  if (ms <= 0) return Promise.reject(fail());
  return raceDeadline(work(), ms, fail);
}

function describeMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.max(0, Math.round(ms))} ms`;
}
