import { VendingError } from './vending-error';

// Server-side failures the caller cannot fix by changing the request. They sit apart from
// client errors because they are logged as warnings and, for 503, carry Retry-After.

/** 502: Entra ID or Databricks answered and refused the service principal. Not retryable as is. */
export class UpstreamRejectedError extends VendingError {
  override readonly name = 'UpstreamRejectedError' as const;
  readonly code = 'upstream_rejected' as const;
  readonly status = 502;
  readonly title = 'Upstream rejected the service principal';
}

/** 503: Key Vault, Entra ID or Databricks could not be reached, or throttled us after retries. */
export class UpstreamUnavailableError extends VendingError {
  override readonly name = 'UpstreamUnavailableError' as const;
  readonly code = 'upstream_unavailable' as const;
  readonly status = 503;
  readonly title = 'Upstream unavailable';
  constructor(detail: string, cause?: unknown, retryAfterSeconds = 5) {
    super({ detail, cause, retryAfterSeconds });
  }
}

/** 503: the audit record could not be written, so no token leaves (fail closed). */
export class AuditUnavailableError extends VendingError {
  override readonly name = 'AuditUnavailableError' as const;
  readonly code = 'audit_unavailable' as const;
  readonly status = 503;
  readonly title = 'Audit unavailable';
  constructor(cause?: unknown, retryAfterSeconds = 5) {
    super({ detail: 'The issuance could not be recorded, so no token was issued. Retry later.', cause, retryAfterSeconds });
  }
}
