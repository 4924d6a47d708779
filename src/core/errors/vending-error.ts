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

  constructor(options: VendingErrorOptions) {
    super(options.detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers ?? {};
  }
}

export function isVendingError(value: unknown): value is VendingError {
  return value instanceof VendingError;
}
