// Client and CLI against a real HTTP server on loopback that answers like the vending API
// (DESIGN §2). Time is injected (clock, sleep), so nothing here waits for real.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/client/cli';
import { VendingClient, VendingClientError } from '../src/client';
import type { VendingClientOptions } from '../src/client';
import { tokenCacheKey } from '../src/client/lib/token-cache-key';

const CALLER_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGk6Ly9kYngtdG9rZW4tdmVuZGluZyJ9.Y2FsbGVyLXNpZ25hdHVyZQ';
const ACCESS_PREFIX = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiIyZmY4MTRhNiJ9.';
const PAT = 'dapi0123456789abcdef0123456789abcdef-2';
const WS = { name: 'analytics-prod', host: 'https://adb-1234567890123456.7.azuredatabricks.net', resource_id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w' };
const T0 = Date.UTC(2030, 0, 1);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown> | undefined;
}
type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[];
let nowMs: number;
let sleeps: number[];
let issued: string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
      seen.push(entry);
      handler(req, res, entry);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  sleeps = [];
  issued = [];
  nowMs = T0;
  handler = vend;
});

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'x-request-id': 'srv-req-1', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** The 200 of POST /api/token, with a fresh token each time so a refetch is visible. */
const vend: Handler = (_req, res, { body }) => {
  const pat = body?.mode === 'pat';
  const token = pat ? `${PAT}${issued.length}` : `${ACCESS_PREFIX}${'s'.repeat(20)}${issued.length}`;
  issued.push(token);
  const expiresOn = Math.floor(nowMs / 1000) + (pat ? Number(body?.lifetime_seconds ?? 3600) : 3599);
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (!pat) headers['X-Databricks-Azure-Workspace-Resource-Id'] = WS.resource_id;
  if (body?.management_token === true) headers['X-Databricks-Azure-SP-Management-Token'] = `${ACCESS_PREFIX}management`;
  send(res, 200, {
    access_token: token,
    token_type: 'Bearer',
    expires_on: expiresOn,
    expires_in: expiresOn - Math.floor(nowMs / 1000),
    mode: body?.mode ?? 'aad',
    ...(pat ? { token_id: `tok-${issued.length}` } : {}),
    ...(Array.isArray(body?.scopes) ? { scopes: body.scopes } : {}),
    workspace: WS,
    service_principal: { name: 'etl-sp', client_id: '12a34b56-0000-4000-8000-000000000000' },
    headers,
    request_id: 'srv-req-1',
  });
};

function problem(status: number, code: string, detail: string, headers: Record<string, string> = {}): Handler {
  return (_req, res) => send(res, status, { type: `https://dbx-token-vending.invalid/errors/${code}`, title: code, status, detail, code, request_id: 'srv-req-1' }, headers);
}

/** Answers with `first` for the first `times` requests, then vends. */
function failing(first: Handler, times: number): Handler {
  let left = times;
  return (req, res, entry) => (left-- > 0 ? first(req, res, entry) : vend(req, res, entry));
}

function client(options: Partial<VendingClientOptions> = {}): VendingClient {
  return new VendingClient({
    endpoint: base,
    getCallerToken: () => Promise.resolve(CALLER_TOKEN),
    clock: { now: () => nowMs },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<VendingClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VendingClientError);
  const error = err as VendingClientError;
  for (const text of [String(error), error.message, JSON.stringify(error), error.stack ?? '']) {
    expect(text).not.toContain(CALLER_TOKEN);
    expect(text).not.toMatch(/eyJ|dapi|Bearer|127\.0\.0\.1/);
  }
  return error;
}

describe('VendingClient.getToken', () => {
  it('posts the request with the caller token and returns the typed body', async () => {
    const token = await client().getToken({ workspace: 'analytics-prod', purpose: 'nightly ETL', managementToken: true });
    expect(seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/token', body: { workspace: 'analytics-prod', mode: 'aad', min_validity_seconds: 330, management_token: true, purpose: 'nightly ETL' } });
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${CALLER_TOKEN}`);
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(token).toMatchObject({ access_token: issued[0], token_type: 'Bearer', mode: 'aad', expires_in: 3599, workspace: WS, request_id: 'srv-req-1' });
    expect(token.headers).toEqual({
      Authorization: `Bearer ${issued[0]}`,
      'X-Databricks-Azure-Workspace-Resource-Id': WS.resource_id,
      'X-Databricks-Azure-SP-Management-Token': `${ACCESS_PREFIX}management`,
    });
  });

  it('serves an aad token from the cache while it is valid long enough, then fetches a new one', async () => {
    const c = client();
    const first = await c.getToken({ workspace: 'analytics-prod' });
    nowMs += 1000 * 1000;
    const second = await c.getToken({ workspace: 'analytics-prod' });
    expect(seen).toHaveLength(1);
    expect(second.access_token).toBe(first.access_token);
    expect(second.expires_in).toBe(2599);
    await c.getToken({ workspace: 'analytics-prod', minValiditySeconds: 2590 });
    expect(seen).toHaveLength(2);
    nowMs += 3300 * 1000;
    const third = await c.getToken({ workspace: 'analytics-prod' });
    expect(seen).toHaveLength(3);
    expect(third.access_token).toBe(issued[2]);
    await c.getToken({ workspace: 'analytics-prod', managementToken: true });
    await c.getToken({ workspace: 'other' });
    expect(seen).toHaveLength(5);
  });

  it('shares one request among concurrent callers for the same key', async () => {
    handler = (req, res, entry) => setTimeout(() => vend(req, res, entry), 50);
    const c = client();
    const tokens = await Promise.all(Array.from({ length: 10 }, () => c.getToken({ workspace: 'analytics-prod' })));
    expect(seen).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.access_token)).size).toBe(1);
  });

  it('never caches a PAT', async () => {
    const c = client();
    const a = await c.getToken({ workspace: 'analytics-prod', mode: 'pat', lifetimeSeconds: 600 });
    const b = await c.getToken({ workspace: 'analytics-prod', mode: 'pat', lifetimeSeconds: 600 });
    expect(seen).toHaveLength(2);
    expect(seen[0]?.body).toEqual({ workspace: 'analytics-prod', mode: 'pat', lifetime_seconds: 600 });
    expect(a.access_token).not.toBe(b.access_token);
    expect(a).toMatchObject({ mode: 'pat', token_id: 'tok-1', headers: { Authorization: `Bearer ${a.access_token}` } });
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    handler = failing(problem(429, 'rate_limited', 'Too many requests.', { 'Retry-After': '1' }), 1);
    const token = await client().getToken({ workspace: 'analytics-prod' });
    expect(token.access_token).toBe(issued[0]);
    expect(seen).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
    expect(seen[0]?.headers['x-request-id']).toBe(seen[1]?.headers['x-request-id']);
  });

  it('really sleeps by default (Retry-After: 0)', async () => {
    handler = failing(problem(503, 'upstream_unavailable', 'Try later.', { 'Retry-After': '0' }), 1);
    await new VendingClient({ endpoint: base, getCallerToken: () => Promise.resolve(CALLER_TOKEN) }).getToken({ workspace: 'analytics-prod' });
    expect(seen).toHaveLength(2);
  });

  it('does not retry a 403 and reports its code, status and request id', async () => {
    handler = problem(403, 'not_granted', 'No grant for workspace "analytics-prod" in mode "aad".');
    const err = await failure(client().getToken({ workspace: 'analytics-prod' }));
    expect(seen).toHaveLength(1);
    expect(err).toMatchObject({ name: 'VendingClientError', code: 'not_granted', status: 403, requestId: 'srv-req-1', retryAfterSeconds: undefined });
    expect(err.message).toBe('not_granted: No grant for workspace "analytics-prod" in mode "aad". (HTTP 403, request id srv-req-1)');
  });

  it('gives up on 503 after maxRetries, and at once when Retry-After exceeds the wait budget', async () => {
    handler = problem(503, 'upstream_unavailable', 'Key Vault is unavailable.', { 'Retry-After': '2' });
    const err = await failure(client({ maxRetries: 1 }).getToken({ workspace: 'analytics-prod' }));
    expect(err).toMatchObject({ code: 'upstream_unavailable', status: 503, retryAfterSeconds: 2 });
    expect(seen).toHaveLength(2);
    expect(sleeps).toEqual([2000]);

    handler = problem(503, 'audit_unavailable', 'The audit record could not be written.', { 'Retry-After': '30' });
    const late = await failure(client().getToken({ workspace: 'analytics-prod' }));
    expect(late).toMatchObject({ code: 'audit_unavailable', retryAfterSeconds: 30 });
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([2000]);
  });

  it('reports a 500 without a problem body as invalid_response, not retried', async () => {
    handler = (_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/html' });
      res.end('<html>oops</html>');
    };
    const err = await failure(client().getToken({ workspace: 'analytics-prod' }));
    expect(err).toMatchObject({ code: 'invalid_response', status: 500 });
    expect(seen).toHaveLength(1);
  });

  it('removes anything token-shaped from a detail before it becomes a message', async () => {
    handler = problem(502, 'upstream_rejected', `Entra ID refused: Bearer ${ACCESS_PREFIX}leak and ${PAT}`);
    const err = await failure(client().getToken({ workspace: 'analytics-prod' }));
    expect(err.message).toContain('[redacted]');
  });

  it('retries a refused connection once, then reports network_error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls += 1;
      return fetch(input, init);
    };
    const err = await failure(client({ endpoint: `http://127.0.0.1:${port}/api`, fetch: counting }).getToken({ workspace: 'analytics-prod' }));
    expect(err).toMatchObject({ code: 'network_error', status: undefined });
    expect(err.message).toContain('ECONNREFUSED');
    expect(calls).toBe(2);
  });

  it('does not resend a PAT request the server may have received', async () => {
    handler = (req) => req.socket.destroy();
    const err = await failure(client().getToken({ workspace: 'analytics-prod', mode: 'pat' }));
    expect(err.code).toBe('network_error');
    expect(seen).toHaveLength(1);
  });

  it('times out a request that gets no answer', async () => {
    handler = () => undefined;
    const err = await failure(client({ timeoutMs: 100 }).getToken({ workspace: 'analytics-prod' }));
    expect(err.code).toBe('timeout');
  });

  it('refuses an endpoint that would send the caller token in clear text', () => {
    expect(() => client({ endpoint: 'http://vending.example.com/api' })).toThrow(TypeError);
    expect(() => new VendingClient({ endpoint: base })).toThrow(TypeError);
  });
});

describe('VendingClient: creating a PAT is not repeated unless nothing was minted', () => {
  const marked = (code: string): Handler => (_req, res) =>
    send(res, 503, { title: code, status: 503, detail: 'Try later.', code, request_id: 'srv-req-1', refused_before_minting: true }, { 'Retry-After': '1' });

  it('does not resend a PAT request after an unmarked 503: the PAT may exist', async () => {
    for (const code of ['audit_unavailable', 'upstream_unavailable']) {
      seen = [];
      handler = failing(problem(503, code, 'The audit record could not be written.', { 'Retry-After': '1' }), 1);
      const err = await failure(client().getToken({ workspace: 'analytics-prod', mode: 'pat' }));
      expect(err).toMatchObject({ code, status: 503, refusedBeforeMinting: false });
      expect(seen).toHaveLength(1);
    }
    expect(issued).toEqual([]);
  });

  it('resends it after a 429 or a 503 marked refused_before_minting, and gets one PAT', async () => {
    handler = failing(problem(429, 'rate_limited', 'Too many requests.', { 'Retry-After': '1' }), 1);
    await client().getToken({ workspace: 'analytics-prod', mode: 'pat' });
    expect(seen).toHaveLength(2);
    for (const code of ['audit_unavailable', 'upstream_unavailable']) {
      seen = [];
      handler = failing(marked(code), 1);
      const pat = await client().getToken({ workspace: 'analytics-prod', mode: 'pat' });
      expect(seen).toHaveLength(2);
      expect(pat.access_token).toBe(issued.at(-1));
    }
    expect(issued).toHaveLength(3);
  });

  it('ignores the marker on other codes and statuses', async () => {
    handler = (_req, res) => send(res, 503, { title: 'x', status: 503, detail: 'x', code: 'internal_error', request_id: 'r', refused_before_minting: true }, { 'Retry-After': '1' });
    expect(await failure(client().getToken({ workspace: 'analytics-prod', mode: 'pat' }))).toMatchObject({ refusedBeforeMinting: false });
    handler = (_req, res) => send(res, 502, { title: 'x', status: 502, detail: 'x', code: 'upstream_unavailable', request_id: 'r', refused_before_minting: true });
    expect(await failure(client().getToken({ workspace: 'analytics-prod', mode: 'pat' }))).toMatchObject({ refusedBeforeMinting: false });
    handler = (_req, res) => send(res, 503, { title: 'x', status: 503, detail: 'x', code: 'audit_unavailable', request_id: 'r', refused_before_minting: 'true' });
    expect(await failure(client().getToken({ workspace: 'analytics-prod', mode: 'pat' }))).toMatchObject({ refusedBeforeMinting: false });
    expect(seen).toHaveLength(3);
  });

  it('still resends an aad request after any 503: it creates nothing', async () => {
    handler = failing(problem(503, 'audit_unavailable', 'Try later.', { 'Retry-After': '1' }), 1);
    await client().getToken({ workspace: 'analytics-prod' });
    expect(seen).toHaveLength(2);
  });
});

describe('VendingClient: headers, workspaces, revoke', () => {
  it('databricksHeaders returns the headers of the cached token', async () => {
    const c = client();
    const headers = await c.databricksHeaders('analytics-prod');
    expect(headers).toEqual({ Authorization: `Bearer ${issued[0]}`, 'X-Databricks-Azure-Workspace-Resource-Id': WS.resource_id });
    await c.databricksHeaders('analytics-prod');
    expect(seen).toHaveLength(1);
  });

  it('lists workspaces', async () => {
    const list = [{ ...WS, modes: ['aad', 'pat'], max_lifetime_seconds: 3600, management_token: false }];
    handler = (_req, res) => send(res, 200, list);
    expect(await client().listWorkspaces()).toEqual(list);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/workspaces' });
  });

  it('revokes a PAT with the path segments encoded', async () => {
    handler = (_req, res) => {
      res.writeHead(204, { 'x-request-id': 'srv-req-1' });
      res.end();
    };
    await client().revokeToken('team a/b', 'tok 1');
    expect(seen[0]).toMatchObject({ method: 'DELETE', url: '/api/token/team%20a%2Fb/tok%201' });
  });
});

/** An unsigned JWT with these claims: the client reads caller claims, the service verifies them. */
function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('the client cache key', () => {
  const alice = { tid: 't1', oid: 'alice', azp: 'app-1' };
  const key = (token: string, parts: Partial<Parameters<typeof tokenCacheKey>[1]> = {}): string =>
    tokenCacheKey(token, { workspace: 'analytics-prod', mode: 'oauth', managementToken: false, scopes: ['clusters:read'], ...parts });

  it('differs for every mode, scope set, workspace and management flag', () => {
    const token = jwt(alice);
    const keys = [
      key(token),
      key(token, { scopes: ['clusters:read', 'sql'] }),
      key(token, { scopes: ['sql'] }),
      key(token, { scopes: [] }),
      key(token, { mode: 'aad', scopes: [] }),
      key(token, { mode: 'aad', scopes: [], managementToken: true }),
      key(token, { mode: 'user', scopes: [] }),
      key(token, { workspace: 'other' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is the caller identity, not the caller token: a renewed token of one caller shares it, another caller never does', () => {
    expect(key(jwt({ ...alice, exp: 1 }))).toBe(key(jwt({ ...alice, exp: 2 })));
    expect(key(jwt(alice))).not.toBe(key(jwt({ ...alice, oid: 'bob' })));
    expect(key(jwt(alice))).not.toBe(key(jwt({ ...alice, tid: 't2' })));
    expect(key(jwt(alice))).not.toBe(key(jwt({ ...alice, azp: 'app-2' })));
    // Opaque tokens (or JWTs without tid/oid) are told apart by a hash, never kept as they are.
    expect(key('opaque-one')).not.toBe(key('opaque-two'));
    expect(key('opaque-one-with-some-length')).not.toContain('opaque-one-with-some-length');
  });

  it('VendingClient: one request per scope set whatever its order; scopes sorted in the body', async () => {
    const c = client();
    const a = await c.getToken({ workspace: 'analytics-prod', mode: 'oauth', scopes: ['sql', 'clusters:read'] });
    const b = await c.getToken({ workspace: 'analytics-prod', mode: 'oauth', scopes: ['clusters:read', 'sql', 'sql'] });
    const narrower = await c.getToken({ workspace: 'analytics-prod', mode: 'oauth', scopes: ['clusters:read'] });
    const grantDefault = await c.getToken({ workspace: 'analytics-prod', mode: 'oauth' });
    expect(b.access_token).toBe(a.access_token);
    expect(new Set([a.access_token, narrower.access_token, grantDefault.access_token]).size).toBe(3);
    expect(seen.map((s) => s.body?.scopes)).toEqual([['clusters:read', 'sql'], ['clusters:read'], undefined]);
    expect(a.scopes).toEqual(['clusters:read', 'sql']);
  });

  it('VendingClient: a user token is served again to the same caller only', async () => {
    let caller = jwt(alice);
    const c = client({ getCallerToken: () => Promise.resolve(caller) });
    const first = await c.getToken({ workspace: 'analytics-prod', mode: 'user' });
    expect((await c.getToken({ workspace: 'analytics-prod', mode: 'user' })).access_token).toBe(first.access_token);
    caller = jwt({ ...alice, oid: 'bob' });
    const bobs = await c.getToken({ workspace: 'analytics-prod', mode: 'user' });
    expect(bobs.access_token).not.toBe(first.access_token);
    // Each request carried the caller token its answer is cached for.
    expect(seen.map((s) => s.headers.authorization)).toEqual([`Bearer ${jwt(alice)}`, `Bearer ${caller}`]);
  });

  it('refuses what the service would, before any request', async () => {
    const c = client();
    for (const request of [
      { workspace: 'w', mode: 'oauth' as const, scopes: ['clusters:write'] },
      { workspace: 'w', mode: 'oauth' as const, scopes: [] },
      { workspace: 'w', mode: 'oauth' as const, scopes: ['all-apis:read'] },
      { workspace: 'w', mode: 'aad' as const, scopes: ['sql'] },
      { workspace: 'w', mode: 'user' as const, scopes: ['sql'] },
      { workspace: 'w', mode: 'oauth' as const, managementToken: true },
      { workspace: 'w', mode: 'oauth' as const, lifetimeSeconds: 600 },
      { workspace: 'w', mode: 'bogus' as unknown as 'aad' },
    ]) {
      await expect(c.getToken(request), JSON.stringify(request)).rejects.toBeInstanceOf(TypeError);
    }
    expect(seen).toHaveLength(0);
  });

  it("has no default vending API scope: a credential without one is refused", () => {
    const credential = { getToken: () => Promise.resolve({ token: CALLER_TOKEN, expiresOnTimestamp: T0 + 3_600_000 }) };
    expect(() => new VendingClient({ endpoint: base, credential })).toThrow(/vending API's scope/);
    expect(() => new VendingClient({ endpoint: base, credential, scope: ' ' })).toThrow(/vending API's scope/);
    expect(new VendingClient({ endpoint: base, credential, scope: 'api://00000000-0000-4000-8000-000000000001/.default' })).toBeInstanceOf(VendingClient);
  });
});

describe('dbx-vend CLI', () => {
  async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { DBX_VEND_ENDPOINT: base, DBX_VEND_CALLER_TOKEN: CALLER_TOKEN, ...env },
    };
    const code = await runCli(args, io);
    return { code, stdout, stderr };
  }

  it('prints export lines for eval with --format env, and no secret on stderr', async () => {
    const out = await cli(['token', '--workspace', 'analytics-prod', '--format', 'env', '--purpose', 'ci']);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(
      `export DATABRICKS_HOST='${WS.host}'\nexport DATABRICKS_TOKEN='${issued[0]}'\nexport DATABRICKS_AZURE_RESOURCE_ID='${WS.resource_id}'\nexport DATABRICKS_AUTH_TYPE='pat'\n`,
    );
    expect(out.stderr).toBe('');
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${CALLER_TOKEN}`);
    expect(seen[0]?.body).toMatchObject({ workspace: 'analytics-prod', mode: 'aad', purpose: 'ci' });
  });

  it('adds DBX_VEND_TOKEN_ID to --format env for a PAT, so a script can revoke it without saving the answer', async () => {
    const out = await cli(['token', '--workspace', 'analytics-prod', '--mode', 'pat', '--format', 'env']);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(
      `export DATABRICKS_HOST='${WS.host}'\nexport DATABRICKS_TOKEN='${issued[0]}'\nexport DATABRICKS_AZURE_RESOURCE_ID='${WS.resource_id}'\nexport DATABRICKS_AUTH_TYPE='pat'\nexport DBX_VEND_TOKEN_ID='tok-1'\n`,
    );
  });

  it('prints header lines and the full JSON', async () => {
    const header = await cli(['token', '--workspace', 'analytics-prod', '--format', 'header', '--management-token', '--min-validity', '600']);
    expect(header.stdout.split('\n')).toEqual([`Authorization: Bearer ${issued[0]}`, `X-Databricks-Azure-Workspace-Resource-Id: ${WS.resource_id}`, `X-Databricks-Azure-SP-Management-Token: ${ACCESS_PREFIX}management`, '']);
    expect(seen[0]?.body).toMatchObject({ min_validity_seconds: 630, management_token: true });
    const json = await cli(['token', '--workspace', 'analytics-prod', '--mode', 'pat', '--lifetime', '900', '--endpoint', base]);
    expect(JSON.parse(json.stdout)).toMatchObject({ mode: 'pat', access_token: issued[1], token_id: 'tok-2' });
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [[], ['token'], ['tokens', '--workspace', 'w'], ['token', '--workspace', 'w', '--format', 'yaml'], ['token', '--workspace', 'w', '--bogus'], ['workspaces', '--workspace', 'w'], ['token', '--workspace', 'w', '--min-validity', '5m']]) {
      const out = await cli(args);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain('Usage:');
    }
    expect((await cli(['workspaces'], { DBX_VEND_ENDPOINT: '' })).code).toBe(2);
    expect((await cli(['workspaces'], { DBX_VEND_ENDPOINT: 'http://vending.example.com/api' })).code).toBe(2);
    expect(seen).toHaveLength(0);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('dbx-vend token');
  });

  it('exits 3 on a refusal with the code and request id on stderr, 4 when unavailable', async () => {
    handler = problem(403, 'not_granted', 'No grant.');
    const refused = await cli(['token', '--workspace', 'analytics-prod', '--format', 'env']);
    expect(refused).toMatchObject({ code: 3, stdout: '' });
    expect(refused.stderr).toBe('dbx-vend: not_granted: No grant. (HTTP 403, request id srv-req-1)\n');

    handler = problem(503, 'upstream_unavailable', 'Entra ID is unavailable.', { 'Retry-After': '60' });
    const down = await cli(['token', '--workspace', 'analytics-prod']);
    expect(down).toMatchObject({ code: 4, stdout: '' });
    expect(down.stderr).toContain('upstream_unavailable');
    expect(down.stderr).toContain('Retry after 60 s.');
    expect(down.stderr).not.toContain(CALLER_TOKEN);
  });

  it('--mode oauth --scopes: repeated and comma lists become one sorted set; bad scopes and misplaced options exit 2', async () => {
    const out = await cli(['token', '--workspace', 'analytics-prod', '--mode', 'oauth', '--scopes', 'sql, clusters:read', '--scopes', 'jobs']);
    expect(out.code, out.stderr).toBe(0);
    expect(seen[0]?.body).toEqual({ workspace: 'analytics-prod', mode: 'oauth', scopes: ['clusters:read', 'jobs', 'sql'], min_validity_seconds: 330 });
    for (const args of [
      ['--mode', 'oauth', '--scopes', 'Clusters'],
      ['--mode', 'oauth', '--scopes', 'clusters:restricted-query'],
      ['--mode', 'aad', '--scopes', 'sql'],
      ['--mode', 'user', '--scopes', 'sql'],
      ['--mode', 'oauth', '--management-token'],
      ['--mode', 'user', '--lifetime', '600'],
      ['--mode', 'sp'],
    ]) {
      const bad = await cli(['token', '--workspace', 'analytics-prod', ...args]);
      expect({ args, code: bad.code, stdout: bad.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(bad.stderr).toMatch(/^dbx-vend: --/);
    }
    expect(seen).toHaveLength(1);
  });

  it('without --scope or DBX_VEND_SCOPE and no caller token: exit 2 naming what to set, before any request', async () => {
    const out = await cli(['workspaces'], { DBX_VEND_CALLER_TOKEN: '' });
    expect({ code: out.code, stdout: out.stdout }).toEqual({ code: 2, stdout: '' });
    expect(out.stderr).toMatch(/^dbx-vend: --scope \(or DBX_VEND_SCOPE\) is required: the vending API's Entra ID scope, e\.g\. api:\/\/<vending API app id>\/\.default\./);
    expect(seen).toHaveLength(0);
  });

  it('lists workspaces and revokes', async () => {
    handler = (req, res) => (req.method === 'GET' ? send(res, 200, []) : (res.writeHead(204), res.end()));
    expect(await cli(['workspaces'])).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
    const revoked = await cli(['revoke', '--workspace', 'analytics-prod', '--token-id', 'abc']);
    expect(revoked).toMatchObject({ code: 0, stdout: '' });
    expect(seen[1]).toMatchObject({ method: 'DELETE', url: '/api/token/analytics-prod/abc' });
  });
});
