import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Workspace } from '../../src/core/config';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { createDatabricksTokenExchanger, sanitizeExchangeFailure } from '../../src/core/mint';

/** A loopback workspace token endpoint: records each exchange, answers as scripted (or never). */
interface Seen { method: string; url: string; contentType: string | undefined; accept: string | undefined; form: URLSearchParams }
interface Answer { status: number; body: unknown; headers?: Record<string, string>; hang?: boolean; headersAfterMs?: number; bodyAfterMs?: number }
let server: Server;
let host: string;
const seen: Seen[] = [];
const hanging: ServerResponse[] = [];
let answer: () => Answer = () => ({ status: 200, body: {} });

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], accept: req.headers.accept, form: new URLSearchParams(body) });
      const a = answer();
      if (a.hang) return void hanging.push(res);
      if (a.headersAfterMs === undefined) return void res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(JSON.stringify(a.body));
      // Headers first, the body later: fetch resolves at the headers, the body is read after.
      setTimeout(() => {
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).flushHeaders();
        setTimeout(() => void (res.destroyed || res.end(JSON.stringify(a.body))), a.bodyAfterMs ?? 0);
      }, a.headersAfterMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  for (const res of hanging) res.destroy();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => (seen.length = 0));

const SP_CLIENT = '22222222-3333-4444-5555-666666666666';
const ws = (name = 'prod'): Workspace => ({ name, host, resourceId: '/subscriptions/s/x', servicePrincipal: { name: 'etl-sp', clientId: SP_CLIENT } as Workspace['servicePrincipal'] });
const jwt = (claims: Record<string, unknown>): string => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('createDatabricksTokenExchanger', () => {
  it('sends an RFC 8693 exchange as the SP with the requested scopes, and reads the granted ones', async () => {
    let t = 1_000_000;
    const exchanger = createDatabricksTokenExchanger({ clock: () => t });
    answer = () => ((t += 500), { status: 200, body: { access_token: 'ws-oauth-token', expires_in: 3600, scope: 'sql  all-apis' } });
    const got = await exchanger.exchange(ws(), 'sp-entra-token', ['sql', 'all-apis']);
    // Expiry counts from when the exchange was sent, not from when it was answered.
    expect(got).toEqual({ token: 'ws-oauth-token', expiresOnMs: 1_000_000 + 3_600_000, scopes: ['sql', 'all-apis'] });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/oidc/v1/token');
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    expect(req.accept).toBe('application/json');
    expect(Object.fromEntries(req.form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'sp-entra-token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      client_id: SP_CLIENT,
      scope: 'sql all-apis',
    });
  });

  it('reports the scopes the workspace granted when it grants fewer than were asked for', async () => {
    answer = () => ({ status: 200, body: { access_token: 'x', expires_in: 60, scope: 'sql' } });
    const got = await createDatabricksTokenExchanger().exchange(ws(), 's', ['sql', 'all-apis']);
    expect(got.scopes).toEqual(['sql']);
    expect(Object.fromEntries(seen[0].form).scope).toBe('sql all-apis');
  });

  it('each step has its own deadline: a body that arrives within its read\'s deadline is not cut by the request\'s', async () => {
    // Deadline 500 ms: the headers come at 250 ms (within the request's deadline), the body 350 ms
    // later (within the body read's own deadline, but after the request's would have ended).
    answer = () => ({ status: 200, body: { access_token: 'slow-body-token', expires_in: 60 }, headersAfterMs: 250, bodyAfterMs: 350 });
    const got = await createDatabricksTokenExchanger({ deadlineMs: 500 }).exchange(ws(), 's', ['sql']);
    expect(got.token).toBe('slow-body-token');
  });

  it('reports the requested scopes when the workspace names none', async () => {
    answer = () => ({ status: 200, body: { access_token: 'x', expires_in: 60 } });
    const got = await createDatabricksTokenExchanger().exchange(ws(), 's', ['sql']);
    expect(got.scopes).toEqual(['sql']);
  });

  it.each([[{ expires_in: 60 }], [{ access_token: 'x' }], [{ access_token: 'x', expires_in: '60' }]])('answers 503 for a success without a token (%j)', async (body) => {
    answer = () => ({ status: 200, body });
    const err = (await createDatabricksTokenExchanger().exchange(ws(), 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Databricks workspace "prod" answered the token exchange without a token.');
  });

  it('after a 429 with Retry-After, tells the caller that wait and sends no exchange before it ends', async () => {
    let t = 5_000_000;
    const exchanger = createDatabricksTokenExchanger({ clock: () => t });
    answer = () => ({ status: 429, body: { error: 'slow_down' }, headers: { 'retry-after': '7' } });
    const first = (await exchanger.exchange(ws('throttled'), 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(first).toBeInstanceOf(UpstreamUnavailableError);
    expect(first.retryAfterSeconds).toBe(7);
    expect(first.detail).toBe('Databricks workspace "throttled" answered the token exchange with HTTP 429; no token was issued.');
    t += 2_500;
    const second = (await exchanger.exchange(ws('throttled'), 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(second.retryAfterSeconds).toBe(5);
    expect(second.detail).toBe('Databricks workspace "throttled" asked the service to wait before the next token exchange; no token was issued.');
    expect(seen).toHaveLength(1);
    // Another workspace is not held back.
    answer = () => ({ status: 200, body: { access_token: 'x', expires_in: 60 } });
    await expect(exchanger.exchange(ws('other'), 's', ['sql'])).resolves.toMatchObject({ token: 'x' });
    t += 4_500;
    await expect(exchanger.exchange(ws('throttled'), 's', ['sql'])).resolves.toMatchObject({ token: 'x' });
    expect(seen).toHaveLength(3);
  });

  it.each([[500, true], [503, true], [499, false], [400, false]])('HTTP %i with Retry-After 3: holds the next exchange back: %s', async (status, held) => {
    let t = 9_000_000;
    const exchanger = createDatabricksTokenExchanger({ clock: () => t });
    answer = () => ({ status, body: { error: 'invalid_request' }, headers: { 'retry-after': '3' } });
    await exchanger.exchange(ws(), 's', ['sql']).catch(() => undefined);
    t += 2_999;
    answer = () => ({ status: 200, body: { access_token: 'x', expires_in: 60 } });
    const next = exchanger.exchange(ws(), 's', ['sql']);
    if (held) await expect(next).rejects.toMatchObject({ retryAfterSeconds: 1 });
    else await expect(next).resolves.toMatchObject({ token: 'x' });
    expect(seen).toHaveLength(held ? 1 : 2);
  });

  it('a 5xx without Retry-After is 503 with Retry-After 1 and holds nothing back', async () => {
    const exchanger = createDatabricksTokenExchanger({ clock: () => 1 });
    answer = () => ({ status: 500, body: {} });
    const err = (await exchanger.exchange(ws(), 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err.retryAfterSeconds).toBe(1);
    await exchanger.exchange(ws(), 's', ['sql']).catch(() => undefined);
    expect(seen).toHaveLength(2);
  });

  it('a refusal is 502 naming the OAuth code and the federation policy the operators must create', async () => {
    answer = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'upstream words' } });
    const subject = jwt({ iss: 'https://login.example/t/v2.0', aud: 'api://dbx', sub: 'sp-oid' });
    const err = (await createDatabricksTokenExchanger().exchange(ws(), subject, ['sql']).catch((e: unknown) => e)) as UpstreamRejectedError;
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.status).toBe(502);
    expect(err.detail).toBe(
      `Databricks workspace "prod" refused the token exchange for service principal "etl-sp" (invalid_grant): the operators should create a federation policy on the Databricks service principal ${SP_CLIENT} with issuer https://login.example/t/v2.0, audience api://dbx and subject sp-oid, and check that the SP is a member of the workspace and the scopes exist.`,
    );
    expect(err.detail).not.toContain(subject);
    expect(err.detail).not.toContain('upstream words');
  });

  it('stops waiting at its own deadline: 503 with Retry-After 1', async () => {
    answer = () => ({ status: 200, body: {}, hang: true });
    const err = (await createDatabricksTokenExchanger({ deadlineMs: 100 }).exchange(ws(), 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.detail).toBe('Databricks workspace "prod" did not answer the token exchange within 0.1 s; no token was issued.');
  });

  it('an unreachable workspace is 503 with Retry-After 1', async () => {
    const closed = { ...ws(), host: 'http://127.0.0.1:1' };
    const err = (await createDatabricksTokenExchanger().exchange(closed, 's', ['sql']).catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.detail).toBe('Databricks workspace "prod" could not be reached for the token exchange; no token was issued.');
  });
});

describe('sanitizeExchangeFailure', () => {
  it('keeps only a well-formed OAuth code, else the HTTP status; unreadable claims become ?', () => {
    const odd = sanitizeExchangeFailure(400, { error: 'Bad Code With Spaces' }, ws(), 'not-a-jwt');
    expect(odd.detail).toContain('(HTTP 400)');
    expect(odd.detail).toContain('with issuer ?, audience ? and subject ?');
    const noCode = sanitizeExchangeFailure(401, {}, ws(), jwt({ iss: 'has space', aud: 7, sub: 'ok' }));
    expect(noCode.status).toBe(502);
    expect(noCode.detail).toContain('(HTTP 401)');
    expect(noCode.detail).toContain('with issuer ?, audience ? and subject ok');
  });

  it('maps 429 and 5xx to 503 with Retry-After rounded up to whole seconds', () => {
    expect(sanitizeExchangeFailure(503, {}, ws(), 's', 1_001)).toMatchObject({ status: 503, retryAfterSeconds: 2 });
    expect(sanitizeExchangeFailure(429, {}, ws(), 's')).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    expect(sanitizeExchangeFailure(499, { error: 'x' }, ws(), 's')).toMatchObject({ status: 502 });
  });
});
