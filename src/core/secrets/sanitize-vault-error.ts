import { UpstreamRejectedError, UpstreamUnavailableError } from '../errors';
import type { VendingError } from '../errors';
import { parseRetryAfter } from '../mint/token-endpoint-observer';

/**
 * Key Vault errors, failing closed: only the HTTP status passes into the caller's detail.
 * The SDK's message names the vault host and secret; that stays out of responses and logs.
 */
export function sanitizeVaultError(err: unknown): VendingError {
  const status = (err as { statusCode?: unknown } | null | undefined)?.statusCode;
  if (status === 401 || status === 403) {
    return new UpstreamRejectedError({
      detail: `Key Vault refused to release the service principal's credential (HTTP ${status}): the operators should check the app identity's "Key Vault Secrets User" role.`,
      cause: err,
    });
  }
  if (status === 404) {
    return new UpstreamRejectedError({
      detail: "The service principal's credential is not in Key Vault (HTTP 404): the operators should check the configured secret name.",
      cause: err,
    });
  }
  // The only abort signal the source hands the SDK is its own deadline, so the SDK's AbortError is
  // a deadline too (it often fails before our race does).
  const name = (err as { name?: unknown } | null | undefined)?.name;
  const why = typeof status === 'number' ? `HTTP ${status}` : name === 'TimeoutError' || name === 'AbortError' ? 'no answer in time' : 'unreachable';
  return new UpstreamUnavailableError(`Key Vault request failed (${why}); no token was issued.`, err, vaultRetryAfter(err));
}

/** Key Vault's own Retry-After (on 429/503), so the caller is told what Key Vault told us. */
function vaultRetryAfter(err: unknown): number {
  const header = (err as { response?: { headers?: { get?: (name: string) => string | undefined } } } | null | undefined)?.response?.headers?.get?.('retry-after');
  const ms = parseRetryAfter(header, Date.now());
  return ms === undefined ? 5 : Math.max(1, Math.ceil(ms / 1000));
}
