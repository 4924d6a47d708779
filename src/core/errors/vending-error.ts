/**
 * The one error taxonomy of the service. Every failure a caller can see is a `VendingError`
 * with a stable `code` from DESIGN §2; anything else is a bug and becomes a generic 500.
 *
 * `detail` is shown to the caller, so it is written here, never copied from an upstream
 * response: Azure SDK messages can carry vault hosts, secret names and request bodies.
 */
export type ProblemCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'not_granted'
  | 'unknown_token'
  | 'not_found'
  | 'conflict'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'upstream_rejected'
  | 'upstream_unavailable'
  | 'audit_unavailable'
  | 'internal_error';

export interface VendingErrorOptions {
  readonly detail: string;
  readonly retryAfterSeconds?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Kept for logs only (sanitized before logging); never serialized to a caller. */
  readonly cause?: unknown;
}

export abstract class VendingError extends Error {
  abstract readonly code: ProblemCode;
  abstract readonly status: number;
  abstract readonly title: string;
  readonly detail: string;
  readonly retryAfterSeconds: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  #refusedBeforeMinting = false;

  constructor(options: VendingErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers ?? {};
  }

  /**
   * A 503 raised before anything was minted for this request, so sending it again cannot leave a
   * second PAT behind (the problem body says `refused_before_minting: true`). Only `beforeMinting`
   * sets it, around a step that precedes the mint: whoever throws the error cannot know that.
   */
  get refusedBeforeMinting(): boolean {
    return this.#refusedBeforeMinting;
  }

  /** @internal for `beforeMinting`; a no-op on anything but a 503. */
  markRefusedBeforeMinting(): void {
    if (this.status === 503) this.#refusedBeforeMinting = true;
  }
}

export function isVendingError(value: unknown): value is VendingError {
  return value instanceof VendingError;
}
