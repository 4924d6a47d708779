import { describe, expect, it } from 'vitest';
import { NotGrantedError, UpstreamRejectedError } from '../../src/core/errors';
import { entraErrorCode, sanitizeEntraError } from '../../src/core/mint';
import { sanitizeVaultError } from '../../src/core/secrets';

const SECRET_BITS = /kv-secret-host|etl-sp-secret|hunter2|app-123|trace-id-9/;

describe('sanitizeVaultError: only the HTTP status passes', () => {
  it.each([
    [401, 'upstream_rejected', 502, 'Key Vault refused to release the service principal\'s credential (HTTP 401): the operators should check the app identity\'s "Key Vault Secrets User" role.'],
    [403, 'upstream_rejected', 502, 'Key Vault refused to release the service principal\'s credential (HTTP 403): the operators should check the app identity\'s "Key Vault Secrets User" role.'],
    [404, 'upstream_rejected', 502, "The service principal's credential is not in Key Vault (HTTP 404): the operators should check the configured secret name."],
    [429, 'upstream_unavailable', 503, 'Key Vault request failed (HTTP 429); no token was issued.'],
    [500, 'upstream_unavailable', 503, 'Key Vault request failed (HTTP 500); no token was issued.'],
    ['404', 'upstream_unavailable', 503, 'Key Vault request failed (unreachable); no token was issued.'],
    [undefined, 'upstream_unavailable', 503, 'Key Vault request failed (unreachable); no token was issued.'],
  ])('status %j → %s', (statusCode, code, status, detail) => {
    const cause = Object.assign(new Error('GET https://kv-secret-host.vault.azure.net/secrets/etl-sp-secret'), { statusCode });
    const err = sanitizeVaultError(cause);
    expect({ code: err.code, status: err.status, detail: err.detail }).toEqual({ code, status, detail });
    expect(err.cause).toBe(cause);
    expect(err.detail).not.toMatch(SECRET_BITS);
  });
});

describe('sanitizeEntraError: only the OAuth code and the AADSTS number pass', () => {
  const msal = (message: string): Error => new Error(message);
  const identity = (error: unknown, errorDescription?: unknown): Error => Object.assign(new Error('trace-id-9 hunter2'), { errorResponse: { error, errorDescription } });

  it.each([
    ['invalid_client', "the operators should check that the SP's credential in Key Vault is current and not expired."],
    ['unauthorized_client', 'the operators should check the client id and that the SP exists in the tenant.'],
    ['invalid_request', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_scope', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_grant', 'the operators should check the SP registration and the requested scope.'],
    ['invalid_resource', 'the operators should check the SP registration and the requested scope.'],
  ])('%s from a leading code in the message', (code, hint) => {
    const err = sanitizeEntraError(msal(`${code}: AADSTS7000215: Invalid client secret hunter2 for app-123. Trace ID: trace-id-9`), 'etl-sp');
    expect({ code: err.code, status: err.status, detail: err.detail }).toEqual({
      code: 'upstream_rejected', status: 502, detail: `Entra ID refused service principal "etl-sp" (${code}, AADSTS7000215): ${hint}`,
    });
    expect(err.detail).not.toMatch(SECRET_BITS);
  });

  it('reads errorResponse first, with its description for the AADSTS number', () => {
    const err = sanitizeEntraError(identity('invalid_client', 'AADSTS700016: app-123 not found'), 'bi-sp');
    expect(err.detail).toBe(`Entra ID refused service principal "bi-sp" (invalid_client, AADSTS700016): the operators should check that the SP's credential in Key Vault is current and not expired.`);
    expect(entraErrorCode(identity('invalid_grant'))).toBe('invalid_grant');
  });

  it('omits the AADSTS part when there is none, and needs 4 to 8 digits', () => {
    expect(sanitizeEntraError(msal('invalid_client: bad'), 'x').detail).toContain('(invalid_client):');
    expect(sanitizeEntraError(msal('invalid_client: AADSTS123 short'), 'x').detail).toContain('(invalid_client):');
    expect(sanitizeEntraError(msal('invalid_client: AADSTS1234'), 'x').detail).toContain('(invalid_client, AADSTS1234):');
  });

  it('a code not at the start of the message, an unknown code or a non-error is "could not be reached"', () => {
    for (const cause of [msal('network: invalid_client: x'), msal('temporarily_unavailable: AADSTS50000'), identity('server_error'), identity(42), 'invalid_client: x', undefined]) {
      const err = sanitizeEntraError(cause, 'etl-sp');
      expect({ code: err.code, status: err.status, detail: err.detail }).toEqual({ code: 'upstream_unavailable', status: 503, detail: 'Entra ID could not be reached for a token; no token was issued.' });
      expect(err.cause).toBe(cause);
    }
    expect(entraErrorCode('invalid_client: x')).toBeUndefined();
  });

  it('passes our own errors through unchanged', () => {
    const ours = new NotGrantedError({ detail: 'no' });
    expect(sanitizeEntraError(ours, 'x')).toBe(ours);
    const rejected = new UpstreamRejectedError({ detail: 'kept' });
    expect(sanitizeEntraError(rejected, 'x')).toBe(rejected);
  });
});

describe('the sanitizers fail closed on anything thrown, even undefined or null', () => {
  it.each([[undefined], [null], ['a string'], [42]])('%j', (thrown) => {
    expect(sanitizeVaultError(thrown).code).toBe('upstream_unavailable');
    expect(sanitizeEntraError(thrown, 'x').code).toBe('upstream_unavailable');
  });
});
