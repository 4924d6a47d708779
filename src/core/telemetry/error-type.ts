import { isVendingError } from '../errors';

/**
 * The one word a span or a metric label says about a failed upstream call: our problem code, the
 * HTTP status, `timeout`, or `error`. Never the message: SDK messages can carry hosts, secret
 * names and request bodies (see describeError).
 */
export function errorType(err: unknown): string {
  if (isVendingError(err)) return err.code;
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && Number.isInteger(status)) return `http_${status}`;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
  return 'error';
}
