import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config';
import {
  AuditUnavailableError, beforeMinting, ConflictError, describeError, InvalidTokenError, isVendingError, MethodNotAllowedError, NotFoundError,
  RateLimitedError, UpstreamRejectedError, UpstreamUnavailableError,
} from '../../src/core/errors';
import { toProblemResponse } from '../../src/core/http';

// The edges of the error taxonomy the other error tests leave open: the grant routes' 404 and
// 409, the 401 challenge with several quotes, which errors beforeMinting marks, and what
// describeError lets through to a log line.

describe('the grant routes\' problems', () => {
  it.each([
    ['NotFoundError', () => new NotFoundError({ detail: 'No grant g1.' }), 'not_found', 404, 'Not found'],
    ['ConflictError', () => new ConflictError({ detail: 'Already revoked.' }), 'conflict', 409, 'Conflict'],
  ])('%s', (name, make, code, status, title) => {
    const err = make(); // built while the test runs, not while the file loads
    expect({ name: err.name, code: err.code, status: err.status, title: err.title, retry: err.retryAfterSeconds }).toEqual({ name, code, status, title, retry: undefined });
    expect(isVendingError(err)).toBe(true);
    expect(toProblemResponse(err, 'r').body).toMatchObject({ code, status, title, detail: err.detail });
  });
});

describe('headers the errors carry', () => {
  it('every double quote of a 401 description is made safe, so the challenge stays one header value', () => {
    const e = new InvalidTokenError('"iss" and "aud" are wrong');
    expect(e.headers['WWW-Authenticate']).toBe(`Bearer error="invalid_token", error_description="'iss' and 'aud' are wrong"`);
    expect(e.detail).toBe('"iss" and "aud" are wrong');
  });

  it('405 with one method names just it', () => {
    expect(new MethodNotAllowedError(['DELETE'])).toMatchObject({ detail: 'This route accepts DELETE.', headers: { Allow: 'DELETE' } });
  });

  it('502 carries no Retry-After; 503 keeps a given cause and Retry-After', () => {
    expect(new UpstreamRejectedError({ detail: 'd' }).retryAfterSeconds).toBeUndefined();
    const cause = new Error('c');
    expect(new AuditUnavailableError(cause, 9)).toMatchObject({ retryAfterSeconds: 9, cause });
    expect(new UpstreamUnavailableError('d', cause, 2)).toMatchObject({ retryAfterSeconds: 2, cause, detail: 'd', message: 'd' });
  });
});

describe('beforeMinting', () => {
  it('marks a 503 (either kind) and passes every error on as the same object', async () => {
    for (const e of [new UpstreamUnavailableError('down'), new AuditUnavailableError()]) {
      expect(e.refusedBeforeMinting).toBe(false);
      expect(await beforeMinting(() => Promise.reject(e)).catch((x: unknown) => x)).toBe(e);
      expect(e.refusedBeforeMinting).toBe(true);
    }
    for (const e of [new RateLimitedError({ detail: 'x' }), new UpstreamRejectedError({ detail: 'x' })]) {
      expect(await beforeMinting(() => Promise.reject(e)).catch((x: unknown) => x)).toBe(e);
      expect(e.refusedBeforeMinting).toBe(false);
    }
    const thrownValue = { code: 'upstream_unavailable', status: 503 };
    // A non-error value thrown by a step (a bug) passes through untouched.
    const throwing = async (): Promise<never> => {
      await Promise.resolve();
      throw thrownValue; // eslint-disable-line @typescript-eslint/only-throw-error -- the point: a thrown non-error
    };
    expect(await beforeMinting(throwing).catch((x: unknown) => x)).toBe(thrownValue);
  });

  it('a step that throws synchronously inside its promise chain is still caught and marked', async () => {
    const e = new UpstreamUnavailableError('sync');
    const caught = await beforeMinting(async () => {
      await Promise.resolve();
      throw e;
    }).catch((x: unknown) => x);
    expect(caught).toBe(e);
    expect(e.refusedBeforeMinting).toBe(true);
  });
});

/** An error whose stack is what it would be in production (our own build, or a package). */
function withStack<E extends Error>(err: E, firstFrame: string, ...more: string[]): E {
  err.stack = [`${err.name}: ${err.message}`, `    at ${firstFrame}`, ...more.map((f) => `    at ${f}`)].join('\n');
  return err;
}

describe('describeError', () => {
  it('keeps the message of each plain error kind thrown by our own code, ConfigError included', () => {
    const ours = '/app/dist/src/core/vend/issue-token.js:1:1';
    for (const err of [new Error('m'), new TypeError('m'), new RangeError('m'), new SyntaxError('m'), new ReferenceError('m')]) {
      expect(describeError(withStack(err, ours))).toMatchObject({ name: err.name, message: 'm' });
    }
    const config = withStack(new ConfigError(['workspaces.prod.host: required']), ours);
    expect(describeError(config)).toMatchObject({ name: 'ConfigError', code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('workspaces.prod.host: required') as string });
  });

  it('judges by the first frame: ours first then a package is ours; a package first is not', () => {
    const oursFirst = withStack(new Error('ours'), 'f (/app/dist/src/core/x.js:1:1)', 'g (/app/node_modules/@azure/functions/index.js:1:1)');
    expect(describeError(oursFirst)).toMatchObject({ message: 'ours' });
    const packageFirst = withStack(new Error('theirs'), 'g (/app/node_modules/undici/index.js:1:1)', 'f (/app/dist/src/core/x.js:1:1)');
    expect(describeError(packageFirst)).toEqual({ name: 'Error' });
    // A stack with no frames at all (only the message lines) is taken as ours.
    const frameless = new Error('no frames');
    frameless.stack = 'Error: no frames\n  which spans lines';
    expect(describeError(frameless)).toEqual({ name: 'Error', message: 'no frames', stack: 'Error: no frames\n  which spans lines' });
    // An error without a stack (cleared by whoever threw it) keeps its message and no empty stack.
    const stackless = new Error('no stack');
    stackless.stack = '';
    expect(describeError(stackless)).toEqual({ name: 'Error', message: 'no stack' });
    const indented = withStack(new Error('x'), '   g (/app/node_modules/a/b.js:1:1)');
    expect(describeError(indented)).toEqual({ name: 'Error' });
  });

  it('prefers a string code over the OAuth error, and ignores an OAuth error that is not a string', () => {
    const both = Object.assign(withStack(new Error('m'), 'x (/app/node_modules/a.js:1:1)'), { code: 'ECONNRESET', errorResponse: { error: 'invalid_client' } });
    expect(describeError(both)).toEqual({ name: 'Error', code: 'ECONNRESET' });
    const odd = Object.assign(withStack(new Error('m'), 'x (/app/node_modules/a.js:1:1)'), { errorResponse: { error: 42 } });
    expect(describeError(odd)).toEqual({ name: 'Error' });
    const none = Object.assign(withStack(new Error('m'), 'x (/app/node_modules/a.js:1:1)'), { errorResponse: {} });
    expect(describeError(none)).toEqual({ name: 'Error' });
    expect(describeError(Object.assign(new UpstreamUnavailableError('d'), { statusCode: 503 }))).toEqual({ name: 'UpstreamUnavailableError', code: 'upstream_unavailable', statusCode: 503, message: 'd' });
    expect(describeError(withStack(Object.assign(new Error('m'), { code: 'a.b-c_D9' }), 'x (/app/node_modules/a.js:1:1)')).code).toBe('a.b-c_D9');
    expect(describeError(withStack(Object.assign(new Error('m'), { code: '' }), 'x (/app/node_modules/a.js:1:1)'))).toEqual({ name: 'Error' });
    expect(describeError(withStack(Object.assign(new Error('m'), { code: 'x\ny' }), 'x (/app/node_modules/a.js:1:1)'))).toEqual({ name: 'Error' });
  });

  it('follows a cause of any kind, exactly three levels below the error', () => {
    expect(describeError(new Error('top', { cause: null })).cause).toEqual({ name: 'object' });
    expect(describeError(new Error('top', { cause: 'text' })).cause).toEqual({ name: 'string' });
    expect('cause' in describeError(new Error('top'))).toBe(false);
    const chain = new Error('0', { cause: new Error('1', { cause: new Error('2', { cause: new Error('3', { cause: new Error('4') }) }) }) });
    const s = describeError(chain);
    expect(s.cause?.cause?.cause?.name).toBe('Error');
    expect(s.cause?.cause?.cause?.cause).toBeUndefined();
    expect(describeError(chain, 3).cause).toBeUndefined();
    expect(describeError(chain, 2).cause?.cause).toBeUndefined();
  });
});
