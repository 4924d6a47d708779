import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Workspace } from '../../src/core/config';
import { UnknownTokenError, UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { createPat, listPats, patComment, revokePat } from '../../src/core/mint/databricks-pats';

/** A loopback stand-in for the Databricks token API: records each request, answers as scripted. */
interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }
let server: Server;
let host: string;
const seen: Seen[] = [];
let answer: (req: Seen) => { status: number; body: unknown } = () => ({ status: 200, body: {} });

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => (seen.length = 0));

const RESOURCE = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const ws = (): Workspace => ({ name: 'prod', host, resourceId: RESOURCE, servicePrincipal: { name: 'etl-sp' } as Workspace['servicePrincipal'] });
const MARK = 'dbx-token-vending caller=t/oid-a ';

describe('patComment', () => {
  it('names the caller before the request, so the caller part is a prefix of every PAT of that caller', () => {
    expect(patComment('t', 'oid-a', 'req-1')).toBe('dbx-token-vending caller=t/oid-a request=req-1');
    expect(patComment('t', 'oid-a', 'req-2').startsWith(MARK)).toBe(true);
  });
});

describe('createPat', () => {
  it('posts lifetime and comment as the SP, with the workspace resource id, and reads the token', async () => {
    answer = () => ({ status: 200, body: { token_value: 'dapi-created', token_info: { token_id: 'tid-1', expiry_time: 1_700_000_000_000 } } });
    await expect(createPat(ws(), 'sp-token', 900, 'c1')).resolves.toEqual({ token: 'dapi-created', tokenId: 'tid-1', expiresOnMs: 1_700_000_000_000 });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/2.0/token/create');
    expect(req.headers.authorization).toBe('Bearer sp-token');
    expect(req.headers['x-databricks-azure-workspace-resource-id']).toBe(RESOURCE);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ lifetime_seconds: 900, comment: 'c1' });
  });

  it('sends scopes only when there are some', async () => {
    answer = () => ({ status: 200, body: { token_value: 'v', token_info: { token_id: 'i', expiry_time: 1 } } });
    await createPat(ws(), 'sp', 60, 'c', ['sql', 'jobs']);
    await createPat(ws(), 'sp', 60, 'c', []);
    expect(JSON.parse(seen[0].body)).toEqual({ lifetime_seconds: 60, comment: 'c', scopes: ['sql', 'jobs'] });
    expect(JSON.parse(seen[1].body)).toEqual({ lifetime_seconds: 60, comment: 'c' });
  });

  it.each([
    [{ token_info: { token_id: 'i', expiry_time: 1 } }],
    [{ token_value: 'v', token_info: { expiry_time: 1 } }],
    [{ token_value: 'v', token_info: { token_id: 'i', expiry_time: '1' } }],
    [{ token_value: 'v' }],
  ])('answers 503 when token/create comes back without a usable token (%j)', async (body) => {
    answer = () => ({ status: 200, body });
    const err = await createPat(ws(), 'sp', 60, 'c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as UpstreamUnavailableError).detail).toBe('Databricks workspace "prod" answered token/create without a token.');
  });

  it('maps QUOTA_EXCEEDED to 503 naming the token quota, Retry-After 60, without Databricks\' message', async () => {
    answer = () => ({ status: 400, body: { error_code: 'QUOTA_EXCEEDED', message: 'secret-ish upstream text' } });
    const err = await createPat(ws(), 'sp', 60, 'c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    const e = err as UpstreamUnavailableError;
    expect(e.status).toBe(503);
    expect(e.code).toBe('upstream_unavailable');
    expect(e.retryAfterSeconds).toBe(60);
    expect(e.detail).toContain('token quota, 600 per workspace');
    expect(e.detail).toContain('"prod"');
    expect(e.detail).not.toContain('secret-ish');
  });

  it('maps other failures to 503 with the HTTP status only, Retry-After 5', async () => {
    answer = () => ({ status: 500, body: { error_code: 'INTERNAL_ERROR', message: 'upstream text' } });
    const err = (await createPat(ws(), 'sp', 60, 'c').catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Databricks workspace "prod" answered HTTP 500.');
    expect(err.retryAfterSeconds).toBe(5);
    answer = () => ({ status: 429, body: 'not json' });
    const e2 = (await createPat(ws(), 'sp', 60, 'c').catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(e2.detail).toBe('Databricks workspace "prod" answered HTTP 429.');
  });

  it.each([401, 403])('maps HTTP %i to 502 upstream_rejected (the SP is not allowed)', async (status) => {
    answer = () => ({ status, body: { error_code: 'PERMISSION_DENIED' } });
    const err = (await createPat(ws(), 'sp', 60, 'c').catch((e: unknown) => e)) as UpstreamRejectedError;
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.status).toBe(502);
    expect(err.detail).toContain(`(HTTP ${status})`);
  });

  it('maps an unreachable workspace to 503', async () => {
    const closed = { ...ws(), host: 'http://127.0.0.1:1' };
    const err = (await createPat(closed, 'sp', 60, 'c').catch((e: unknown) => e)) as UpstreamUnavailableError;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Databricks workspace "prod" could not be reached; no token was issued.');
  });
});

describe('listPats', () => {
  it('reads ids, comments and expiry (-1 without one), skipping entries without an id', async () => {
    answer = () => ({
      status: 200,
      body: { token_infos: [{ token_id: 'a', comment: 'c-a', expiry_time: 5 }, { token_id: 'b' }, { comment: 'no id' }, { token_id: 7 }, { token_id: 'c', comment: 3, expiry_time: 'x' }] },
    });
    await expect(listPats(ws(), 'sp')).resolves.toEqual([
      { tokenId: 'a', comment: 'c-a', expiresOnMs: 5 },
      { tokenId: 'b', comment: '', expiresOnMs: -1 },
      { tokenId: 'c', comment: '', expiresOnMs: -1 },
    ]);
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toBe('/api/2.0/token/list');
    expect(seen[0].body).toBe('');
  });

  it('reads an empty answer as no PATs', async () => {
    answer = () => ({ status: 200, body: {} });
    await expect(listPats(ws(), 'sp')).resolves.toEqual([]);
  });
});

describe('revokePat', () => {
  const list = { token_infos: [{ token_id: 'mine', comment: `${MARK}request=r1` }, { token_id: 'theirs', comment: 'dbx-token-vending caller=t/oid-b request=r2' }, { token_id: 'bare' }] };

  it('deletes a PAT whose comment names this caller', async () => {
    answer = (r) => (r.url === '/api/2.0/token/list' ? { status: 200, body: list } : { status: 200, body: {} });
    await revokePat(ws(), 'sp', 'mine', MARK);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /api/2.0/token/list', 'POST /api/2.0/token/delete']);
    expect(JSON.parse(seen[1].body)).toEqual({ token_id: 'mine' });
  });

  it.each(['theirs', 'bare', 'gone'])('refuses 404 unknown_token for %s and deletes nothing', async (tokenId) => {
    answer = () => ({ status: 200, body: list });
    const err = (await revokePat(ws(), 'sp', tokenId, MARK).catch((e: unknown) => e)) as UnknownTokenError;
    expect(err).toBeInstanceOf(UnknownTokenError);
    expect(err.status).toBe(404);
    // The same answer whether the PAT is someone else's or does not exist: nothing to tell them apart.
    expect(err.detail).toBe('No token with this id was issued to this caller for this workspace, or it no longer exists.');
    expect(seen.map((s) => s.url)).toEqual(['/api/2.0/token/list']);
  });

  it('refuses when the list is empty', async () => {
    answer = () => ({ status: 200, body: {} });
    await expect(revokePat(ws(), 'sp', 'mine', MARK)).rejects.toBeInstanceOf(UnknownTokenError);
  });
});
