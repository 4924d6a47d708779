import { AuditUnavailableError } from '../errors';
import type { Clock } from '../policy';
import { systemClock } from '../policy';
import type { SecretSource } from './secret-source';

/** The audit fingerprint key (DESIGN §3, §8), wherever it comes from. */
export interface AuditKeySource {
  /** The key; AuditUnavailableError (503 with Retry-After) while it cannot be had. */
  current(): Promise<Buffer>;
  /** Undefined when the key is in hand; otherwise what is missing, by name (never a value). */
  problem(): string | undefined;
  /**
   * True while the key is not in hand but a read of it is under way (at start): a request may
   * prepare what leaves nothing behind meanwhile. False with the key in hand, and while it is known
   * to be missing (then a request answers 503 without preparing anything). Absent: never.
   */
  arriving?(): boolean;
}

/** The key given as a value (AUDIT_HMAC_KEY: local runs and tests). */
export class FixedAuditKey implements AuditKeySource {
  constructor(private readonly key: Buffer) {}

  current(): Promise<Buffer> {
    return Promise.resolve(this.key);
  }

  problem(): undefined {
    return undefined;
  }
}

export interface VaultAuditKeyOptions {
  readonly secrets: SecretSource;
  readonly secretName: string;
  /** Turns the secret's text into the key; undefined when the text is not a valid key. */
  readonly parse: (value: string) => Buffer | undefined;
  /** AUDIT_HMAC_KEY held App Service's unresolved Key Vault reference text (reported, not used). */
  readonly unresolvedReference?: boolean;
  readonly clock?: Clock;
  /** While no key is in hand, a request reads the vault at most this often (also the Retry-After). */
  readonly retryMs?: number;
  /** While no key is in hand, the vault is read this often without any request (unref'd timer). */
  readonly pollMs?: number;
  /** Told each time the problem changes (undefined: the key is in hand). Names only. */
  readonly onChange?: (problem: string | undefined) => void;
}

/**
 * The key read by name from Key Vault through the app's SecretSource (same client, cache and
 * refresh as the SP secrets). Until the secret exists, vending answers 503 and health names what is
 * missing; once it is stored, the next read (a request, or the poll) picks it up: no restart.
 */
export class VaultAuditKey implements AuditKeySource {
  #key: Buffer | undefined;
  #problem: string;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #pending: Promise<Buffer> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #clock: Clock;
  readonly #retryMs: number;

  constructor(private readonly options: VaultAuditKeyOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#problem = this.#describe('not read yet');
  }

  /** First read now, then a poll while the key is missing, so health turns ready by itself. */
  start(): this {
    void this.#attempt().catch(() => undefined);
    const pollMs = this.options.pollMs ?? 30_000;
    this.#timer = setInterval(() => {
      if (this.#key) return this.stop();
      void this.#attempt().catch(() => undefined);
    }, pollMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  problem(): string | undefined {
    return this.#key ? undefined : this.#problem;
  }

  arriving(): boolean {
    return !this.#key && this.#pending !== undefined;
  }

  async current(): Promise<Buffer> {
    if (this.#key) return this.#refresh(this.#key);
    const waited = this.#clock.now() - this.#lastAttempt;
    if (waited < this.#retryMs && !this.#pending) throw this.#unavailable(this.#retryMs - waited);
    return this.#attempt().catch(() => {
      throw this.#unavailable(this.#retryMs);
    });
  }

  /** With a key in hand: the cached secret (refreshed on the source's TTL); a bad new value keeps the old key. */
  async #refresh(key: Buffer): Promise<Buffer> {
    try {
      const secret = await this.options.secrets.get(this.options.secretName);
      const fresh = this.options.parse(secret.value);
      if (fresh) this.#key = fresh;
      return fresh ?? key;
    } catch {
      return key;
    }
  }

  #attempt(): Promise<Buffer> {
    this.#pending ??= this.#read().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #read(): Promise<Buffer> {
    this.#lastAttempt = this.#clock.now();
    let key: Buffer | undefined;
    try {
      key = this.options.parse((await this.options.secrets.get(this.options.secretName, { latest: true })).value);
      if (!key) this.#setProblem(this.#describe('holds no valid key (base64 of at least 32 bytes)'));
    } catch (err) {
      this.#setProblem(this.#describe(whyUnreadable(err)));
      throw err;
    }
    if (!key) throw new Error(this.#problem);
    this.#key = key;
    this.stop();
    this.options.onChange?.(undefined);
    return key;
  }

  #setProblem(problem: string): void {
    const changed = problem !== this.#problem;
    this.#problem = problem;
    if (changed) this.options.onChange?.(problem);
  }

  #describe(state: string): string {
    const secret = `audit key: Key Vault secret "${this.options.secretName}" (AUDIT_HMAC_SECRET_NAME) ${state}`;
    return this.options.unresolvedReference
      ? `audit key: AUDIT_HMAC_KEY is an unresolved Key Vault reference (@Microsoft.KeyVault(...) text, not a key), so it is not used; ${secret.slice('audit key: '.length)}`
      : secret;
  }

  #unavailable(retryMs: number): AuditUnavailableError {
    return new AuditUnavailableError(new Error(this.#problem), Math.max(1, Math.ceil(retryMs / 1000)));
  }
}

/** The HTTP status the vault answered, kept by the sanitized error as its cause; never a message. */
function whyUnreadable(err: unknown): string {
  const status = ((err as { cause?: { statusCode?: unknown } }).cause ?? (err as { statusCode?: unknown })).statusCode;
  if (status === 404) return 'not found (HTTP 404): store it in the vault';
  if (status === 401 || status === 403) return `not readable by the app's identity (HTTP ${status}): check its "Key Vault Secrets User" role`;
  return typeof status === 'number' ? `could not be read (HTTP ${status})` : 'could not be read (Key Vault unreachable)';
}
