import { UpstreamRejectedError, UpstreamUnavailableError, isVendingError } from '../errors';
import type { VendingError } from '../errors';

/** OAuth errors that mean "Entra ID answered and said no", as opposed to "could not ask". */
function isRejection(code: string | undefined): code is string {
  return code !== undefined && ['invalid_client', 'unauthorized_client', 'invalid_request', 'invalid_scope', 'invalid_grant', 'invalid_resource'].includes(code);
}

interface EntraFailure {
  readonly code: string | undefined;
  readonly aadsts: string | undefined;
}

/**
 * Reads the OAuth error code and AADSTS number out of an @azure/identity error. The MSAL-based
 * credentials surface a server refusal as an error whose message starts with the OAuth code
 * ("invalid_client: … AADSTS7000215 …"); AuthenticationError carries it in `errorResponse`.
 */
export function readEntraFailure(err: unknown): EntraFailure {
  const response = (err as { errorResponse?: { error?: unknown; errorDescription?: unknown } } | null | undefined)?.errorResponse;
  // Stryker disable next-line StringLiteral: a text without an OAuth code or AADSTS number reads as nothing, whatever it is.
  const message = err instanceof Error ? err.message : '';
  const description = typeof response?.errorDescription === 'string' ? response.errorDescription : message;
  // A message starting with one of the refusal codes and a colon.
  const leading = /^([a-z_]+):/.exec(message)?.[1];
  const code = typeof response?.error === 'string' ? response.error : isRejection(leading) ? leading : undefined;
  return { code, aadsts: /AADSTS\d{4,8}/.exec(description)?.[0] };
}

export function entraErrorCode(err: unknown): string | undefined {
  return readEntraFailure(err).code;
}

/**
 * Only the OAuth error code and the AADSTS number pass into the detail: the SDK's message
 * quotes the app id, trace ids and sometimes the request, and a secret must never be echoed.
 */
export function sanitizeEntraError(err: unknown, spName: string): VendingError {
  if (isVendingError(err)) return err;
  const { code, aadsts } = readEntraFailure(err);
  if (isRejection(code)) {
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
