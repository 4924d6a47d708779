import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BodyTooLargeError, InvalidRequestError, RateLimitedError, UpstreamUnavailableError } from '../../src/core/errors';
import { baseHeaders, jsonResponse, MAX_BODY_BYTES, PROBLEM_TYPE_BASE, readJsonBody, resolveRequestId, toProblemResponse } from '../../src/core/http';
import { loadAnew } from '../support/load-anew';
import { rejection } from '../support/rejection';

const schema = z.strictObject({ a: z.int().max(3), b: z.string().optional() });
const body = (text: string, contentType: string | null = 'application/json') => ({ contentType, readBody: () => Promise.resolve(text) });

describe('readJsonBody: media type, size, syntax, schema, in that order', () => {
  it('accepts application/json with parameters and any case', async () => {
    expect(await readJsonBody(body('{"a":1}', 'Application/JSON; charset=utf-8'), schema)).toEqual({ a: 1 });
    expect(await readJsonBody(body('{"a":1}', ' application/json ;x=y'), schema)).toEqual({ a: 1 });
  });

  it.each([[null], ['text/plain'], ['application/json-patch+json'], ['']])('refuses content type %j with 415', async (ct) => {
    const err = await rejection(readJsonBody(body('{"a":1}', ct), schema));
    expect(err).toMatchObject({ code: 'unsupported_media_type', detail: 'The body must be JSON with Content-Type: application/json.' });
  });

  it('counts bytes, not characters: exactly the limit passes, one byte more is 413', async () => {
    const pad = (n: number) => `{"a":1,"b":"${'x'.repeat(n - 14)}"}`;
    expect(Buffer.byteLength(pad(MAX_BODY_BYTES))).toBe(MAX_BODY_BYTES);
    expect(await readJsonBody(body(pad(MAX_BODY_BYTES)), schema)).toMatchObject({ a: 1 });
    const err = await rejection(readJsonBody(body(pad(MAX_BODY_BYTES + 1)), schema));
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect(err).toMatchObject({ detail: `The body must be at most ${MAX_BODY_BYTES} bytes.` });
    const multiByte = `{"a":1,"b":"${'é'.repeat(MAX_BODY_BYTES / 2)}"}`;
    expect(multiByte.length).toBeLessThan(MAX_BODY_BYTES);
    expect(await rejection(readJsonBody(body(multiByte), schema))).toBeInstanceOf(BodyTooLargeError);
  });

  it('400 for bad JSON, and for schema problems with their paths, at most five', async () => {
    expect(await rejection(readJsonBody(body('{a:1'), schema))).toMatchObject({ code: 'invalid_request', detail: 'The body is not valid JSON.' });
    const err = await rejection(readJsonBody(body('{"a":9,"b":1}'), schema));
    expect(err).toMatchObject({ code: 'invalid_request' });
    expect((err as unknown as { detail: string }).detail).toMatch(/^a: .+; b: .+$/);
    expect(await rejection(readJsonBody(body('[]'), schema))).toMatchObject({ detail: expect.stringMatching(/^body: /) as string });
    const many = z.strictObject({ a: z.string(), b: z.string(), c: z.string(), d: z.string(), e: z.string(), f: z.string() });
    const six = await rejection(readJsonBody(body('{}'), many));
    expect((six as unknown as { detail: string }).detail.split('; ')).toHaveLength(5);
  });

  it('names a nested field by its dotted path', async () => {
    const nested = z.strictObject({ a: z.strictObject({ list: z.array(z.int()) }) });
    const err = await rejection(readJsonBody(body('{"a":{"list":[1,"x"]}}'), nested));
    expect((err as unknown as { detail: string }).detail).toMatch(/^a\.list\.1: /);
  });
});

describe('responses', () => {
  it('every response header set forbids caching and carries the request id', () => {
    expect(baseHeaders('r1')).toEqual({ 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Content-Type': 'application/json', 'x-request-id': 'r1' });
    expect(jsonResponse(201, { x: 1 }, 'r2')).toEqual({ status: 201, headers: baseHeaders('r2'), body: { x: 1 } });
  });

  it('a problem carries type, title, status, detail, code, request id, and rounds Retry-After up to at least 1', () => {
    const res = toProblemResponse(new RateLimitedError({ detail: 'd', retryAfterSeconds: 0.2 }), 'r3');
    expect(res).toEqual({
      status: 429,
      headers: { ...baseHeaders('r3', 'application/problem+json'), 'Retry-After': '1' },
      body: { type: `${PROBLEM_TYPE_BASE}rate_limited`, title: 'Rate limited', status: 429, detail: 'd', code: 'rate_limited', request_id: 'r3' },
    });
    expect(toProblemResponse(new UpstreamUnavailableError('d', undefined, 2.1), 'r').headers['Retry-After']).toBe('3');
    expect(PROBLEM_TYPE_BASE).toBe('https://dbx-token-vending.invalid/errors/');
  });

  it('a known error without a retry time carries no Retry-After', () => {
    const res = toProblemResponse(new InvalidRequestError({ detail: 'd' }), 'r5');
    expect(res.status).toBe(400);
    expect(res.headers).toEqual(baseHeaders('r5', 'application/problem+json'));
  });

  it('an unknown error is a generic 500 with no Retry-After and none of its own text', () => {
    const res = toProblemResponse(Object.assign(new Error('secret detail'), { retryAfterSeconds: 5, headers: { 'X-Leak': '1' } }), 'r4');
    expect(res).toEqual({
      status: 500,
      headers: baseHeaders('r4', 'application/problem+json'),
      body: { type: `${PROBLEM_TYPE_BASE}internal_error`, title: 'Internal error', status: 500, detail: 'An unexpected error occurred. Quote the request id when reporting it.', code: 'internal_error', request_id: 'r4' },
    });
  });
});

describe('resolveRequestId', () => {
  it('keeps 1 to 128 safe characters, replaces anything else with a UUID', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(resolveRequestId('a')).toBe('a');
    expect(resolveRequestId('A.b_c:d-9'.padEnd(128, 'x'))).toHaveLength(128);
    for (const bad of ['x'.repeat(129), '', 'a b', 'a/b', 'ä', 'x\n', null, undefined]) expect(resolveRequestId(bad)).toMatch(uuid);
    expect(resolveRequestId(null)).not.toBe(resolveRequestId(null));
  });
});

// Values built when a module loads (the limit, the problem type's base, the request id's pattern):
// each test loads its module anew (see loadAnew), with the error classes of the same load.
describe('values the http modules build when they load', () => {
  it('the body limit is 16 KiB: exactly 16384 bytes pass, one more is 413', async () => {
    const [{ readJsonBody: fresh }, errors] = await loadAnew(() => Promise.all([import('../../src/core/http/read-json-body.js'), import('../../src/core/errors/index.js')]));
    const pad = (n: number) => `{"a":1,"b":"${'x'.repeat(n - 14)}"}`;
    expect(await fresh(body(pad(16 * 1024)), schema)).toMatchObject({ a: 1 });
    const err = await rejection(fresh(body(pad(16 * 1024 + 1)), schema));
    expect(err).toBeInstanceOf(errors.BodyTooLargeError);
    expect(err).toMatchObject({ detail: 'The body must be at most 16384 bytes.' });
  });

  it('a problem\'s type is its code under the .invalid errors base', async () => {
    const [{ toProblemResponse: fresh }, errors] = await loadAnew(() => Promise.all([import('../../src/core/http/problem.js'), import('../../src/core/errors/index.js')]));
    expect(fresh(new errors.InvalidRequestError({ detail: 'd' }), 'r').body).toMatchObject({ type: 'https://dbx-token-vending.invalid/errors/invalid_request', code: 'invalid_request' });
  });

  it('a caller\'s request id is kept only when the whole of it is 1 to 128 safe characters', async () => {
    const { resolveRequestId: fresh } = await loadAnew(() => import('../../src/core/http/request-id.js'));
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(fresh('a')).toBe('a');
    const longest = 'A.b_c:d-9'.padEnd(128, 'x');
    expect(fresh(longest)).toBe(longest);
    for (const bad of ['x'.repeat(129), 'a b', ' a', 'a ', 'a/b']) expect(fresh(bad)).toMatch(uuid);
  });
});
