import { performance } from 'node:perf_hooks';
import type { ServiceRequest, ServiceResponse } from './service.js';

/** One injected misbehaviour: answer late, or answer with this status (and headers/body) instead. */
export interface Fault {
  /** Only requests whose path matches (default: all). */
  readonly path?: RegExp;
  /** Hold the answer this long first (the real answer, or `status`). */
  readonly delayMs?: number;
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
}

/**
 * Fault injection for a sandbox service (tests only): slow answers, 429 with Retry-After, 5xx,
 * error bodies such as Databricks' QUOTA_EXCEEDED. Also counts the requests it saw.
 */
export class FaultInjector {
  #fault: Fault | undefined;
  /** Every request since the last reset: its path, arrival and when its answer was written (performance.now() of this process; NaN until then): the bench's cold trace. */
  #seen: { readonly path: string; readonly at: number; answeredAt: number }[] = [];
  readonly #entryOf = new WeakMap<ServiceRequest, { answeredAt: number }>();

  /** Every request the service received since the last reset (answered or not), or those to matching paths. */
  requests(path?: RegExp): number {
    return path ? this.#seen.filter((e) => path.test(e.path)).length : this.#seen.length;
  }

  /**
   * Every request since the last reset, in order of arrival, with its arrival time and the time
   * its answer was written (performance.now(); NaN while unanswered): how long the service, its
   * injected delay included, held each one.
   */
  timeline(): Array<{ readonly path: string; readonly at: number; readonly answeredAt: number }> {
    return this.#seen.map((e) => ({ ...e }));
  }

  /** The service wrote its answer to `req` (one `apply` saw; one from before a reset is no longer listed). */
  answered(req: ServiceRequest): void {
    const entry = this.#entryOf.get(req);
    if (entry) entry.answeredAt = performance.now();
  }

  resetRequests(): void {
    this.#seen = [];
  }

  set(fault: Fault | undefined): void {
    this.#fault = fault;
  }

  clear(): void {
    this.#fault = undefined;
  }

  /** The injected answer, or undefined to let the real handler answer (after any delay). */
  async apply(req: ServiceRequest): Promise<ServiceResponse | undefined> {
    const entry = { path: req.path, at: performance.now(), answeredAt: Number.NaN };
    this.#seen.push(entry);
    this.#entryOf.set(req, entry);
    const fault = this.#fault;
    if (!fault || (fault.path && !fault.path.test(req.path))) return undefined;
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs).unref());
    if (fault.status === undefined) return undefined;
    return { status: fault.status, headers: fault.headers, json: fault.json };
  }
}
