import { describe, expect, it } from 'vitest';
import {
  AuditUnavailableError,
  beforeMinting,
  BodyTooLargeError,
  describeError,
  InvalidRequestError,
  InvalidTokenError,
  MethodNotAllowedError,
  NotGrantedError,
  RateLimitedError,
  UnsupportedMediaTypeError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from '../../src/core/errors';
import { resolveRequestId, toProblemResponse } from '../../src/core/http';
import { sanitizeVaultError } from '../../src/core/secrets';
import { sanitizeEntraError } from '../../src/core/mint';

describe('toProblemResponse', () => {
  const table: [Error, number, string][] = [
    [new InvalidRequestError({ detail: 'x' }), 400, 'invalid_request'],
    [new InvalidTokenError('x'), 401, 'invalid_token'],
    [new NotGrantedError({ detail: 'x' }), 403, 'not_granted'],
    [new MethodNotAllowedError(['POST']), 405, 'method_not_allowed'],
    [new BodyTooLargeError({ detail: 'x' }), 413, 'body_too_large'],
    [new UnsupportedMediaTypeError({ detail: 'x' }), 415, 'unsupported_media_type'],
    [new RateLimitedError({ detail: 'x', retryAfterSeconds: 12.2 }), 429, 'rate_limited'],
    [new UpstreamRejectedError({ detail: 'x' }), 502, 'upstream_rejected'],
    [new UpstreamUnavailableError('x'), 503, 'upstream_unavailable'],
    [new AuditUnavailableError(), 503, 'audit_unavailable'],
    [new TypeError('secret stuff'), 500, 'internal_error'],
  ];
  for (const [err, status, code] of table) {
    it(`${code} → ${status}`, () => {
      const res = toProblemResponse(err, 'req-1');
      expect(res.status).toBe(status);
      expect(res.headers['Content-Type']).toBe('application/problem+json');
      expect(res.headers['Cache-Control']).toBe('no-store');
      expect(res.headers['x-request-id']).toBe('req-1');
      expect(res.body).toMatchObject({ type: `https://dbx-token-vending.invalid/errors/${code}`, status, code, request_id: 'req-1' });
    });
  }

  it('sets the challenge on 401, Allow on 405 and Retry-After on 429/503', () => {
    expect(toProblemResponse(new InvalidTokenError('The token has expired.'), 'r').headers['WWW-Authenticate']).toBe(
      'Bearer error="invalid_token", error_description="The token has expired."',
    );
    expect(toProblemResponse(new MethodNotAllowedError(['GET']), 'r').headers.Allow).toBe('GET');
    expect(toProblemResponse(new RateLimitedError({ detail: 'x', retryAfterSeconds: 12.2 }), 'r').headers['Retry-After']).toBe('13');
    expect(toProblemResponse(new AuditUnavailableError(), 'r').headers['Retry-After']).toBe('5');
  });

  it('says refused_before_minting only for a 503 raised inside beforeMinting, and never false', async () => {
    const refused = await beforeMinting(() => Promise.reject(new AuditUnavailableError())).catch((e: unknown) => e);
    expect(toProblemResponse(refused, 'r').body).toMatchObject({ code: 'audit_unavailable', refused_before_minting: true });
    // Raised outside it (the audit write after the mint): no field at all.
    expect(toProblemResponse(new AuditUnavailableError(), 'r').body).not.toHaveProperty('refused_before_minting');
    // Only a 503 can carry it: a 403 or a bug passing through beforeMinting stays as it was.
    const forbidden = await beforeMinting(() => Promise.reject(new NotGrantedError({ detail: 'x' }))).catch((e: unknown) => e);
    expect(toProblemResponse(forbidden, 'r').body).not.toHaveProperty('refused_before_minting');
    const bug = await beforeMinting(() => Promise.reject(new TypeError('x'))).catch((e: unknown) => e);
    expect(toProblemResponse(bug, 'r').body).not.toHaveProperty('refused_before_minting');
    await expect(beforeMinting(() => Promise.resolve(7))).resolves.toBe(7);
  });

  it('hides the message of unknown errors', () => {
    expect(JSON.stringify(toProblemResponse(new TypeError('secret stuff'), 'r').body)).not.toContain('secret stuff');
  });
});

describe('sanitizeVaultError', () => {
  const sdkError = (statusCode: number | undefined) =>
    Object.assign(new Error('GET https://kv-vending.vault.azure.net/secrets/etl-sp-secret failed: value=hunter2'), { name: 'RestError', statusCode, code: 'Forbidden' });
  for (const [status, code] of [[403, 'upstream_rejected'], [404, 'upstream_rejected'], [500, 'upstream_unavailable'], [undefined, 'upstream_unavailable']] as const) {
    it(`HTTP ${status} → ${code}, without host, secret name or value`, () => {
      const err = sanitizeVaultError(sdkError(status));
      expect(err.code).toBe(code);
      const shown = JSON.stringify(toProblemResponse(err, 'r').body) + JSON.stringify(describeError(err));
      for (const leak of ['kv-vending', 'vault.azure.net', 'etl-sp-secret', 'hunter2']) expect(shown).not.toContain(leak);
    });
  }
});

describe('describeError', () => {
  it('keeps only name, code and status of SDK errors', () => {
    const err = Object.assign(new Error('https://kv.vault.azure.net/secrets/x token=abc'), { name: 'RestError', code: 'Forbidden', statusCode: 403 });
    err.stack = 'RestError: ...\n    at f (node_modules/@azure/core-rest-pipeline/dist/x.js:1:1)';
    expect(describeError(err)).toEqual({ name: 'RestError', code: 'Forbidden', statusCode: 403 });
  });
});

describe('resolveRequestId', () => {
  it('keeps a safe caller id and replaces anything else', () => {
    expect(resolveRequestId('abc-123:x.y_z')).toBe('abc-123:x.y_z');
    for (const bad of ['', 'a b', 'x'.repeat(129), 'a/b', null]) expect(resolveRequestId(bad)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('sanitizeEntraError', () => {
  it('reads the OAuth code from either error shape and keeps the message out', () => {
    const msal = Object.assign(new Error('unauthorized_client: AADSTS700016: Application with identifier app-123 was not found. secret=hunter2'), { name: 'AuthenticationRequiredError' });
    const identity = Object.assign(new Error('boom'), { name: 'AuthenticationError', errorResponse: { error: 'invalid_client', errorDescription: 'AADSTS7000222: expired secret=hunter2' } });
    expect(sanitizeEntraError(msal, 'etl-sp')).toMatchObject({ code: 'upstream_rejected', detail: expect.stringContaining('(unauthorized_client, AADSTS700016)') as string });
    expect(sanitizeEntraError(identity, 'etl-sp')).toMatchObject({ code: 'upstream_rejected', detail: expect.stringContaining('(invalid_client, AADSTS7000222)') as string });
    expect(sanitizeEntraError(new Error('connect ECONNREFUSED 127.0.0.1:443'), 'etl-sp').code).toBe('upstream_unavailable');
    for (const err of [msal, identity]) expect(sanitizeEntraError(err, 'etl-sp').detail).not.toMatch(/hunter2|app-123/);
  });
});
