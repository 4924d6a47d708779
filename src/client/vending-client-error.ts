/**
 * Problem codes the vending API answers with (DESIGN §2). Written out (not imported from the
 * service) so the installed client carries no service code; a type test keeps both lists equal.
 */
export type ServiceProblemCode =
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

/** Failures found on this side of the wire: no problem body to read a code from. */
export type ClientFailureCode = 'network_error' | 'timeout' | 'invalid_response' | 'credential_unavailable';

/**
 * A code this client version does not know yet is passed through unchanged, so a newer
 * service can add codes without older clients losing them; `switch` on the known ones.
 */
export type VendingClientErrorCode = ServiceProblemCode | ClientFailureCode | (string & {});

export interface VendingClientErrorOptions {
  readonly code: VendingClientErrorCode;
  /** HTTP status of the answer; undefined when there was none (network, timeout, credential). */
  readonly status?: number | undefined;
  readonly requestId?: string | undefined;
  readonly retryAfterSeconds?: number | undefined;
  /** The service said it refused before creating anything (see `refusedBeforeMinting`). */
  readonly refusedBeforeMinting?: boolean | undefined;
  /** Kept for debugging; not enumerable, so it is not serialized with the error. */
  readonly cause?: unknown;
}

/**
 * The one error the client throws for anything the service or the network did. Misuse of the
 * client itself (a bad endpoint, no credential) is a `TypeError` at construction instead.
 *
 * Security invariant: the message is written here or is the service's `detail` with anything
 * token-shaped removed; it never holds a token, the request body, a header or the endpoint URL.
 */
export class VendingClientError extends Error {
  override readonly name = 'VendingClientError' as const;
  readonly code: VendingClientErrorCode;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  /**
   * True when a 503 `audit_unavailable` / `upstream_unavailable` answer carries the service's
   * marker `"refused_before_minting": true`: no token was created, so resending is harmless.
   */
  readonly refusedBeforeMinting: boolean;

  constructor(message: string, options: VendingClientErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.status = options.status;
    this.requestId = options.requestId;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.refusedBeforeMinting = options.refusedBeforeMinting === true;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, status: this.status, requestId: this.requestId, retryAfterSeconds: this.retryAfterSeconds, message: this.message };
  }
}

export function isVendingClientError(value: unknown): value is VendingClientError {
  return value instanceof VendingClientError;
}
