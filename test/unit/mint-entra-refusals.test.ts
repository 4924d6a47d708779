import { describe, expect, it } from 'vitest';
import { InvalidRequestError, UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { sanitizeOnBehalfOfError } from '../../src/core/azure';
import { entraErrorCode, readEntraFailure, sanitizeEntraError } from '../../src/core/mint';

const SECRET = 'client-secret-value-xyz';

describe('readEntraFailure', () => {
  it('reads the code from errorResponse first, else from the leading code of the message; the AADSTS number from either', () => {
    expect(readEntraFailure({ errorResponse: { error: 'invalid_grant', errorDescription: 'AADSTS50173: gone' } })).toEqual({ code: 'invalid_grant', aadsts: 'AADSTS50173' });
    expect(readEntraFailure(new Error('invalid_client: AADSTS7000215: Invalid client secret provided.'))).toEqual({ code: 'invalid_client', aadsts: 'AADSTS7000215' });
    expect(readEntraFailure(new Error('something invalid_client: AADSTS123'))).toEqual({ code: undefined, aadsts: undefined });
    expect(readEntraFailure(new Error('server_error: busy'))).toEqual({ code: undefined, aadsts: undefined });
    expect(readEntraFailure(null)).toEqual({ code: undefined, aadsts: undefined });
  });

  it('reads only strings from errorResponse, falling back to the message; a message on a non-Error is not read', () => {
    const err = Object.assign(new Error('invalid_grant: AADSTS70000: expired'), { errorResponse: { error: 42, errorDescription: { text: 'AADSTS99999' } } });
    expect(readEntraFailure(err)).toEqual({ code: 'invalid_grant', aadsts: 'AADSTS70000' });
    expect(readEntraFailure({ message: 'invalid_client: AADSTS7000215' })).toEqual({ code: undefined, aadsts: undefined });
    expect(readEntraFailure(new Error('invalid_client: AADSTS123456789 AADSTS123'))).toEqual({ code: 'invalid_client', aadsts: 'AADSTS12345678' });
    expect(entraErrorCode(new Error('unauthorized_client: x'))).toBe('unauthorized_client');
  });
});

describe('sanitizeEntraError', () => {
  it.each([
    ['invalid_client', "the operators should check that the SP's credential in Key Vault is current and not expired."],
    ['unauthorized_client', 'the operators should check the client id and that the SP exists in the tenant.'],
    ['invalid_scope', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_resource', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_request', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_grant', 'the operators should check the SP registration and the requested scope.'],
  ])('turns %s into 502 upstream_rejected with the hint, the code and AADSTS only', (code, hint) => {
    const err = sanitizeEntraError(new Error(`${code}: AADSTS7000215: secret ${SECRET} Trace ID: abc`), 'etl-sp');
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toBe(`Entra ID refused service principal "etl-sp" (${code}, AADSTS7000215): ${hint}`);
  });

  it('leaves out the AADSTS part when there is none, and never echoes the message', () => {
    const err = sanitizeEntraError({ errorResponse: { error: 'invalid_grant', errorDescription: SECRET } }, 'sp');
    expect(err.detail).toBe('Entra ID refused service principal "sp" (invalid_grant): the operators should check the SP registration and the requested scope.');
  });

  it('anything else is 503 upstream_unavailable; a VendingError passes unchanged', () => {
    const err = sanitizeEntraError(new Error(`temporarily_unavailable: ${SECRET}`), 'sp');
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Entra ID could not be reached for a token; no token was issued.');
    const own = new InvalidRequestError({ detail: 'x' });
    expect(sanitizeEntraError(own, 'sp')).toBe(own);
  });
});

describe('sanitizeOnBehalfOfError', () => {
  it.each(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope', 'invalid_request'])('turns %s into 502 with what to configure', (code) => {
    const err = sanitizeOnBehalfOfError(new Error(`${code}: AADSTS65001: consent ${SECRET}`));
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toMatch(new RegExp(`^Entra ID refused the on-behalf-of exchange \\(${code}, AADSTS65001\\): the operators should check`));
    expect(err.detail).toContain('AzureDatabricks user_impersonation with admin consent.');
    expect(err.detail).not.toContain(SECRET);
  });

  it('leaves out the AADSTS part when there is none, and never echoes the description', () => {
    const err = sanitizeOnBehalfOfError({ errorResponse: { error: 'invalid_grant', errorDescription: SECRET } });
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toBe(
      'Entra ID refused the on-behalf-of exchange (invalid_grant): the operators should check that the vending API\'s ' +
      "app registration has a federated credential trusting the app's managed identity and the delegated permission " +
      'AzureDatabricks user_impersonation with admin consent.',
    );
  });

  it('anything else is 503 with Entra ID\'s own Retry-After rounded up, at least 1 s', () => {
    expect(sanitizeOnBehalfOfError(new Error('invalid_resource: x'))).toBeInstanceOf(UpstreamUnavailableError);
    expect(sanitizeOnBehalfOfError(new Error('boom')).retryAfterSeconds).toBe(1);
    expect(sanitizeOnBehalfOfError(new Error('boom'), 0).retryAfterSeconds).toBe(1);
    expect(sanitizeOnBehalfOfError(new Error('boom'), 4_001).retryAfterSeconds).toBe(5);
    expect(sanitizeOnBehalfOfError(new Error('boom'), 3_000).detail).toBe('Entra ID could not be reached for an on-behalf-of token; no token was issued.');
    const own = new InvalidRequestError({ detail: 'x' });
    expect(sanitizeOnBehalfOfError(own)).toBe(own);
  });
});
