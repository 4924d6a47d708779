export { VendingError, isVendingError } from './vending-error';
export type { ProblemCode, VendingErrorOptions } from './vending-error';
export {
  InvalidRequestError,
  InvalidTokenError,
  NotGrantedError,
  UnknownTokenError,
  NotFoundError,
  ConflictError,
  MethodNotAllowedError,
  BodyTooLargeError,
  UnsupportedMediaTypeError,
  RateLimitedError,
} from './client-errors';
export { UpstreamRejectedError, UpstreamUnavailableError, AuditUnavailableError } from './upstream-errors';
export { beforeMinting } from './before-minting';
export { describeError } from './describe-error';
export type { ErrorSummary } from './describe-error';
