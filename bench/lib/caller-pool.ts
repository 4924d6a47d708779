import { randomUUID } from 'node:crypto';
import type { Sandbox } from '../../src/dev/sandbox';

/** The sandbox grant's per-caller limit (requests per minute, fixed window). */
export const PER_CALLER_PER_MINUTE = 600;

/**
 * Caller tokens for distinct callers (fresh object ids), handed out round-robin. The per-caller
 * rate limit keys on tenant and object id, so a pool large enough keeps every caller under it
 * and the load measures vending, not 429s. It counts what it handed out to prove that.
 */
export class CallerPool {
  #next = 0;
  #handedOut = 0;

  private constructor(private readonly tokens: readonly string[]) {}

  static async create(sandbox: Sandbox, size: number): Promise<CallerPool> {
    const tokens: string[] = [];
    for (let i = 0; i < size; i += 1) tokens.push(await sandbox.issueCallerToken({ claims: { oid: randomUUID() } }));
    return new CallerPool(tokens);
  }

  get size(): number {
    return this.tokens.length;
  }

  next(): string {
    const token = this.tokens[this.#next];
    this.#next = (this.#next + 1) % this.tokens.length;
    this.#handedOut += 1;
    return token;
  }

  /** Requests built with one caller's token so far: an upper bound on what any caller sent. */
  maxPerCaller(): number {
    return Math.ceil(this.#handedOut / this.tokens.length);
  }
}
