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
  #paths: string[] = [];
  /** Arrival times (performance.now() of this process) beside #paths: the bench's cold trace. */
  #arrivals: number[] = [];
  /** When each answer was written, beside #paths (NaN until then). */
  #answers: number[] = [];
  readonly #indexOf = new WeakMap<ServiceRequest, number>();

  /** Every request the service received since the last reset (answered or not), or those to matching paths. */
  requests(path?: RegExp): number {
    return path ? this.#paths.filter((p) => path.test(p)).length : this.#paths.length;
  }

  /**
   * Every request since the last reset, in order of arrival, with its arrival time and the time
   * its answer was written (performance.now(); NaN while unanswered): how long the service, its
   * injected delay included, held each one.
   */
  timeline(): Array<{ readonly path: string; readonly at: number; readonly answeredAt: number }> {
    return this.#paths.map((path, i) => ({ path, at: this.#arrivals[i] ?? Number.NaN, answeredAt: this.#answers[i] ?? Number.NaN }));
  }

  /** The service wrote its answer to `req` (one `apply` saw). */
  answered(req: ServiceRequest): void {
    const i = this.#indexOf.get(req);
    if (i !== undefined) this.#answers[i] = performance.now();
  }

  resetRequests(): void {
    this.#paths = [];
    this.#arrivals = [];
    this.#answers = [];
  }

  set(fault: Fault | undefined): void {
    this.#fault = fault;
  }

  clear(): void {
    this.#fault = undefined;
  }

  /** The injected answer, or undefined to let the real handler answer (after any delay). */
  async apply(req: ServiceRequest): Promise<ServiceResponse | undefined> {
    this.#indexOf.set(req, this.#paths.length);
    this.#paths.push(req.path);
    this.#arrivals.push(performance.now());
    this.#answers.push(Number.NaN);
    const fault = this.#fault;
    if (!fault || (fault.path && !fault.path.test(req.path))) return undefined;
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs).unref());
    if (fault.status === undefined) return undefined;
    return { status: fault.status, headers: fault.headers, json: fault.json };
  }
}
