import { UpstreamRejectedError, UpstreamUnavailableError, isVendingError } from '../errors';
import type { VendingError } from '../errors';

/** OAuth errors that mean "Entra ID answered and said no", as opposed to "could not ask". */
const REJECTIONS = new Set(['invalid_client', 'unauthorized_client', 'invalid_request', 'invalid_scope', 'invalid_grant', 'invalid_resource']);

export function entraErrorCode(err: unknown): string | undefined {
  const code = (err as { errorResponse?: { error?: unknown } }).errorResponse?.error;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Only the OAuth error code and the AADSTS number pass into the detail: the SDK's message
 * can quote the request, and a certificate or secret must never be echoed.
 */
export function sanitizeEntraError(err: unknown, spName: string): VendingError {
  if (isVendingError(err)) return err;
  const code = entraErrorCode(err);
  if (code && REJECTIONS.has(code)) {
    const description = (err as { errorResponse?: { errorDescription?: unknown } }).errorResponse?.errorDescription;
    const aadsts = typeof description === 'string' ? /AADSTS\d{4,8}/.exec(description)?.[0] : undefined;
    return new UpstreamRejectedError({
      detail: `Entra ID refused service principal "${spName}" (${code}${aadsts ? `, ${aadsts}` : ''}): ${hint(code)}`,
      cause: err,
    });
  }
  return new UpstreamUnavailableError('Entra ID could not be reached for a token; no token was issued.', err);
}

function hint(code: string): string {
  if (code === 'invalid_client') return "the operators should check that the SP's credential in Key Vault is current and not expired.";
  if (code === 'unauthorized_client') return 'the operators should check the client id and that the SP exists in the tenant.';
  return 'the operators should check the SP registration and the requested scope.';
}
