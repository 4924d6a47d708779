import { VendingError } from './vending-error';

// Client errors: the request or the caller is at fault. They are never retried by us and
// never logged above "info": a flood of them is the caller's problem, not an incident.

export class InvalidRequestError extends VendingError {
  override readonly name = 'InvalidRequestError' as const;
  readonly code = 'invalid_request' as const;
  readonly status = 400;
  readonly title = 'Invalid request';
}

/** 401: the bearer token is missing or cannot be trusted. Carries the RFC 6750 challenge. */
export class InvalidTokenError extends VendingError {
  override readonly name = 'InvalidTokenError' as const;
  readonly code = 'invalid_token' as const;
  readonly status = 401;
  readonly title = 'Invalid caller token';
  constructor(detail: string) {
    super({ detail, headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${detail.replace(/"/g, "'")}"` } });
  }
}

export class NotGrantedError extends VendingError {
  override readonly name = 'NotGrantedError' as const;
  readonly code = 'not_granted' as const;
  readonly status = 403;
  readonly title = 'Not granted';
}

/** 404 for a PAT id this caller did not receive from us (or that no longer exists). */
export class UnknownTokenError extends VendingError {
  override readonly name = 'UnknownTokenError' as const;
  readonly code = 'unknown_token' as const;
  readonly status = 404;
  readonly title = 'Unknown token';
}

/** 404 for a grant or grant request id that does not exist. */
export class NotFoundError extends VendingError {
  override readonly name = 'NotFoundError' as const;
  readonly code = 'not_found' as const;
  readonly status = 404;
  readonly title = 'Not found';
}

/** 409: the grant or request is not in a state that allows this (already revoked, already decided), or changed meanwhile. */
export class ConflictError extends VendingError {
  override readonly name = 'ConflictError' as const;
  readonly code = 'conflict' as const;
  readonly status = 409;
  readonly title = 'Conflict';
}

export class MethodNotAllowedError extends VendingError {
  override readonly name = 'MethodNotAllowedError' as const;
  readonly code = 'method_not_allowed' as const;
  readonly status = 405;
  readonly title = 'Method not allowed';
  constructor(allowed: readonly string[]) {
    super({ detail: `This route accepts ${allowed.join(', ')}.`, headers: { Allow: allowed.join(', ') } });
  }
}

export class BodyTooLargeError extends VendingError {
  override readonly name = 'BodyTooLargeError' as const;
  readonly code = 'body_too_large' as const;
  readonly status = 413;
  readonly title = 'Body too large';
}

export class UnsupportedMediaTypeError extends VendingError {
  override readonly name = 'UnsupportedMediaTypeError' as const;
  readonly code = 'unsupported_media_type' as const;
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

export class RateLimitedError extends VendingError {
  override readonly name = 'RateLimitedError' as const;
  readonly code = 'rate_limited' as const;
  readonly status = 429;
  readonly title = 'Rate limited';
}
