import { describe, expect, it } from 'vitest';
import type { VendingError} from '../../src/core/errors';
import {
  AuditUnavailableError, BodyTooLargeError, describeError, InvalidRequestError, InvalidTokenError, isVendingError, MethodNotAllowedError,
  NotGrantedError, RateLimitedError, UnknownTokenError, UnsupportedMediaTypeError, UpstreamRejectedError,
  UpstreamUnavailableError
} from '../../src/core/errors';

describe('one error class per problem code (DESIGN §2)', () => {
  it.each([
    ['InvalidRequestError', () => new InvalidRequestError({ detail: 'd' }), 'invalid_request', 400, 'Invalid request'],
    ['InvalidTokenError', () => new InvalidTokenError('d'), 'invalid_token', 401, 'Invalid caller token'],
    ['NotGrantedError', () => new NotGrantedError({ detail: 'd' }), 'not_granted', 403, 'Not granted'],
    ['UnknownTokenError', () => new UnknownTokenError({ detail: 'd' }), 'unknown_token', 404, 'Unknown token'],
    ['MethodNotAllowedError', () => new MethodNotAllowedError(['GET']), 'method_not_allowed', 405, 'Method not allowed'],
    ['BodyTooLargeError', () => new BodyTooLargeError({ detail: 'd' }), 'body_too_large', 413, 'Body too large'],
    ['UnsupportedMediaTypeError', () => new UnsupportedMediaTypeError({ detail: 'd' }), 'unsupported_media_type', 415, 'Unsupported media type'],
    ['RateLimitedError', () => new RateLimitedError({ detail: 'd', retryAfterSeconds: 7 }), 'rate_limited', 429, 'Rate limited'],
    ['UpstreamRejectedError', () => new UpstreamRejectedError({ detail: 'd' }), 'upstream_rejected', 502, 'Upstream rejected the service principal'],
    ['UpstreamUnavailableError', () => new UpstreamUnavailableError('d'), 'upstream_unavailable', 503, 'Upstream unavailable'],
    ['AuditUnavailableError', () => new AuditUnavailableError(), 'audit_unavailable', 503, 'Audit unavailable'],
  ])('%s', (name, make: () => VendingError, code, status, title) => {
    // Built inside the test: an error made while the file loads would be made before a mutant is on.
    const err = make();
    expect({ name: err.name, code: err.code, status: err.status, title: err.title }).toEqual({ name, code, status, title });
    expect(err).toBeInstanceOf(Error);
    expect(isVendingError(err)).toBe(true);
  });

  it('keeps detail, headers, Retry-After and cause as given', () => {
    const cause = new Error('inner');
    const e = new RateLimitedError({ detail: 'slow down', retryAfterSeconds: 12, headers: { 'X-A': 'b' }, cause });
    expect({ detail: e.detail, message: e.message, retry: e.retryAfterSeconds, headers: e.headers, cause: e.cause }).toEqual({ detail: 'slow down', message: 'slow down', retry: 12, headers: { 'X-A': 'b' }, cause });
    const bare = new NotGrantedError({ detail: 'no' });
    expect({ retry: bare.retryAfterSeconds, headers: bare.headers, hasCause: 'cause' in bare }).toEqual({ retry: undefined, headers: {}, hasCause: false });
  });

  it('401 carries the RFC 6750 challenge, with quotes in the description made safe', () => {
    expect(new InvalidTokenError('the "aud" is wrong').headers).toEqual({ 'WWW-Authenticate': `Bearer error="invalid_token", error_description="the 'aud' is wrong"` });
  });

  it('405 names the allowed methods in the detail and the Allow header', () => {
    const e = new MethodNotAllowedError(['GET', 'POST']);
    expect({ detail: e.detail, headers: e.headers }).toEqual({ detail: 'This route accepts GET, POST.', headers: { Allow: 'GET, POST' } });
  });

  it('503s ask to retry after 5 s unless told otherwise, and keep their cause', () => {
    const cause = new Error('down');
    const u = new UpstreamUnavailableError('d', cause);
    expect({ retry: u.retryAfterSeconds, cause: u.cause }).toEqual({ retry: 5, cause });
    expect(new UpstreamUnavailableError('d', undefined, 30).retryAfterSeconds).toBe(30);
    const a = new AuditUnavailableError(cause);
    expect({ retry: a.retryAfterSeconds, cause: a.cause, detail: a.detail }).toEqual({ retry: 5, cause, detail: 'The issuance could not be recorded, so no token was issued. Retry later.' });
  });

  it('isVendingError is false for anything else', () => {
    for (const v of [new Error('x'), { code: 'invalid_request', status: 400 }, 'invalid_request', undefined, null]) expect(isVendingError(v)).toBe(false);
  });
});

/** An error as an Azure SDK throws it: its stack starts inside a package. */
function sdkError(message: string, fields: Record<string, unknown> = {}, name = 'RestError'): Error {
  const err = Object.assign(new Error(message), fields);
  err.name = name;
  err.stack = `${name}: ${message}\n    at send (/app/node_modules/@azure/core-rest-pipeline/dist/index.js:1:1)`;
  return err;
}

describe('describeError: what of an error may reach a log line', () => {
  it('keeps only name, code and status of an SDK error, never its message or stack', () => {
    const s = describeError(sdkError('GET https://kv.vault.azure.net/secrets/etl-sp-secret failed', { code: 'SecretNotFound', statusCode: 404 }));
    expect(s).toEqual({ name: 'RestError', code: 'SecretNotFound', statusCode: 404 });
  });

  it('a plain Error thrown inside a package keeps no message either', () => {
    expect(describeError(sdkError('token=abc', {}, 'Error'))).toEqual({ name: 'Error' });
  });

  it('reads the OAuth code from errorResponse, and drops a code that is not a plain identifier', () => {
    expect(describeError(sdkError('m', { errorResponse: { error: 'invalid_client' } }, 'AuthenticationError'))).toEqual({ name: 'AuthenticationError', code: 'invalid_client' });
    expect(describeError(sdkError('m', { code: 'has space' }))).toEqual({ name: 'RestError' });
    expect(describeError(sdkError('m', { code: 'x'.repeat(65) }))).toEqual({ name: 'RestError' });
    expect(describeError(sdkError('m', { code: 'x'.repeat(64) })).code).toBe('x'.repeat(64));
    expect(describeError(sdkError('m', { code: 42, statusCode: '500' }))).toEqual({ name: 'RestError' });
  });

  it('keeps message and stack of our own plain errors (bugs), and the detail of our errors', () => {
    const bug = new TypeError('x is undefined');
    const s = describeError(bug);
    expect(s).toMatchObject({ name: 'TypeError', message: 'x is undefined' });
    expect(s.stack).toContain('TypeError: x is undefined');
    expect(describeError(new NotGrantedError({ detail: 'caller-facing' }))).toEqual({ name: 'NotGrantedError', code: 'not_granted', message: 'caller-facing' });
    const noStack = new RangeError('r');
    noStack.stack = undefined;
    expect(describeError(noStack)).toEqual({ name: 'RangeError', message: 'r' });
  });

  it('does not trust a subclass that calls itself Error', () => {
    class Leaky extends Error {}
    const e = new Leaky('secret=hunter2-long-enough');
    expect(e.name).toBe('Error');
    expect(describeError(e)).toEqual({ name: 'Error' });
    const renamed = new Error('secret');
    renamed.name = 'AuthenticationError';
    expect(describeError(renamed)).toEqual({ name: 'AuthenticationError' });
  });

  it('describes non-errors by their type only, and follows causes three levels deep', () => {
    expect(describeError('a string with a token')).toEqual({ name: 'string' });
    expect(describeError({ message: 'x' })).toEqual({ name: 'object' });
    let err: Error = new TypeError('root');
    for (let i = 0; i < 5; i++) err = new Error(`level ${i}`, { cause: err });
    const s = describeError(err);
    expect(s.cause?.cause?.cause?.message).toBe('level 1');
    expect(s.cause?.cause?.cause?.cause).toBeUndefined();
  });
});
