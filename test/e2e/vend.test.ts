import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { claimsOf, stackWithHost } from './harness';

const DATABRICKS = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
interface VendBody {
  access_token: string;
  expires_in: number;
  workspace: { host: string };
  headers: Record<string, string>;
}

const env = stackWithHost();

function expectProblem(reply: { status: number; headers: Headers; json: Record<string, unknown> }, status: number, code: string): void {
  expect({ status: reply.status, code: reply.json.code }).toEqual({ status, code });
  expect(reply.headers.get('content-type')).toBe('application/problem+json');
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.json).toMatchObject({ type: expect.stringContaining(code) as string, title: expect.any(String) as string, detail: expect.any(String) as string });
  expect(reply.json.request_id).toBe(reply.headers.get('x-request-id'));
  expect(JSON.stringify(reply.json)).not.toMatch(/\n\s+at |node_modules|Error:/);
}

describe('POST /api/token (aad)', () => {
  it('vends a Databricks token that the workspace accepts, and records it', async () => {
    const { sandbox } = env.stack;
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', purpose: 'nightly ETL' }, { headers: { 'x-request-id': 'req-happy-1' } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('x-request-id')).toBe('req-happy-1');
    const body = reply.json as unknown as VendBody;
    const token = body.access_token;
    const claims = claimsOf(token);
    expect(claims).toMatchObject({ aud: DATABRICKS, appid: sandbox.apps.servicePrincipals['etl-sp'].clientId, tid: sandbox.tenantId });
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_on: claims.exp,
      mode: 'aad',
      workspace: { name: 'analytics-sandbox', host: sandbox.workspaceUrl, resource_id: sandbox.workspaceResourceId },
      service_principal: { name: 'etl-sp', client_id: sandbox.apps.servicePrincipals['etl-sp'].clientId },
      headers: { Authorization: `Bearer ${token}`, 'X-Databricks-Azure-Workspace-Resource-Id': sandbox.workspaceResourceId },
      request_id: 'req-happy-1',
    });
    expect(body.expires_in).toBeGreaterThan(3500);
    expect(body.headers['X-Databricks-Azure-SP-Management-Token']).toBeUndefined();

    const me = await fetch(`${body.workspace.host}/api/2.0/preview/scim/v2/Me`, { headers: body.headers });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { userName: string }).userName).toBe(sandbox.apps.servicePrincipals['etl-sp'].clientId);

    // Looked up by request id: nothing here depends on today's date or the partition layout.
    const row = (await env.stack.auditRows()).find((r) => r.request_id === 'req-happy-1');
    expect(row).toMatchObject({
      // An issuance partition: day + bucket (README "Audit record"); its day is checked against the row's own time below.
      partitionKey: expect.stringMatching(/^\d{8}-0[0-7]$/) as string,
      outcome: 'issued',
      status: 200,
      caller_tid: sandbox.tenantId,
      caller_appid: sandbox.apps.callerApp.clientId,
      caller_kind: 'app',
      workspace: 'analytics-sandbox',
      service_principal: 'etl-sp',
      mode: 'aad',
      management_token: false,
      token_id: claims.uti,
      token_fingerprint: createHmac('sha256', Buffer.from(sandbox.auditHmacKey, 'base64')).update(token).digest('hex').slice(0, 16),
      expires_on: claims.exp,
      purpose: 'nightly ETL',
      source_ip: '127.0.0.1',
    });
    expect(row?.rowKey).toMatch(/^\d{8}T\d{6}\.\d{3}Z_req-happy-1$/);
    // The partition's day is the row's own day (no dependence on the wall clock at assertion time).
    expect(String(row?.partitionKey).slice(0, 8)).toBe(String(row?.rowKey).slice(0, 8));
  });

  it('adds the management token when asked and granted, so a non-member SP gets in', async () => {
    const reply = await env.stack.vend(env.host, { workspace: 'ops-sandbox', management_token: true });
    expect(reply.status).toBe(200);
    const headers = reply.json.headers as Record<string, string>;
    expect(claimsOf(headers['X-Databricks-Azure-SP-Management-Token'] ?? '').aud).toBe('https://management.core.windows.net/');
    const me = await fetch(`${env.stack.sandbox.workspaceUrl}/api/2.0/clusters/list`, { headers });
    expect(me.status).toBe(200);
  });

  it('refuses the management token where the grant does not allow it (403)', async () => {
    expectProblem(await env.stack.vend(env.host, { workspace: 'analytics-sandbox', management_token: true }), 403, 'not_granted');
  });

  it('serves a delegated (user) caller holding the role, and says so in the audit', async () => {
    const token = await env.stack.callerToken({ kind: 'user' });
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token, headers: { 'x-request-id': 'req-user-1' } });
    expect(reply.status).toBe(200);
    expect((await env.stack.auditRows()).find((r) => r.request_id === 'req-user-1')).toMatchObject({ caller_kind: 'user', caller_name: expect.stringContaining('@') as string });
  });

  it('does not grant a user what a grant gives the client app they sign in through (appIds means the app itself)', async () => {
    // ops-sandbox grants the caller app by appIds. The app itself vends there...
    expect((await env.stack.vend(env.host, { workspace: 'ops-sandbox' })).status).toBe(200);
    // ...but a user whose token names that app as azp/appid is a user, not the app: refused.
    const viaApp = await env.stack.callerToken({ kind: 'user', clientId: env.stack.sandbox.apps.callerApp.clientId, roles: [] });
    expectProblem(await env.stack.vend(env.host, { workspace: 'ops-sandbox' }, { token: viaApp }), 403, 'not_granted');
  });
});

describe('refusals', () => {
  it.each([
    ['no token', null],
    ['expired', { expiresInSeconds: -120 }],
    ['wrong audience', { audience: 'api://other-api' }],
    ['another tenant', { tenantId: '0b0b0b0b-0000-4000-8000-000000000000' }],
    ['unsigned', { alg: 'none' }],
  ] as const)('401 for %s, with the Bearer challenge', async (_name, opts) => {
    const token = opts === null ? null : await env.stack.callerToken(opts);
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token });
    expectProblem(reply, 401, 'invalid_token');
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('403 for a caller without a grant, and alike for an unknown workspace', async () => {
    const other = await env.stack.callerToken({ clientId: env.stack.sandbox.apps.otherCallerApp.clientId, roles: [] });
    expectProblem(await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token: other }), 403, 'not_granted');
    expectProblem(await env.stack.vend(env.host, { workspace: 'no-such-ws' }), 403, 'not_granted');
  });

  it.each([
    ['body not JSON', 400, 'invalid_request', '{"workspace":', {}],
    ['unknown field', 400, 'invalid_request', { workspace: 'analytics-sandbox', scope: 'x' }, {}],
    ['ill-typed field', 400, 'invalid_request', { workspace: 'analytics-sandbox', management_token: 'yes' }, {}],
    ['min_validity out of range', 400, 'invalid_request', { workspace: 'analytics-sandbox', min_validity_seconds: 3001 }, {}],
    ['purpose with control characters', 400, 'invalid_request', { workspace: 'analytics-sandbox', purpose: 'a\u0007b' }, {}],
    ['lifetime_seconds in aad mode', 400, 'invalid_request', { workspace: 'analytics-sandbox', lifetime_seconds: 600 }, {}],
    ['body over 16 KiB', 413, 'body_too_large', { workspace: 'analytics-sandbox', purpose: 'x'.repeat(17_000) }, {}],
    ['not JSON content type', 415, 'unsupported_media_type', 'workspace=analytics-sandbox', { 'Content-Type': 'application/x-www-form-urlencoded' }],
  ] as const)('%s → %s %s', async (_name, status, code, body, headers) => {
    expectProblem(await env.stack.vend(env.host, body, { headers }), status, code);
  });

  it('405 with Allow for a wrong method, and records refusals as denied', async () => {
    const reply = await env.stack.call(env.host, '/token', { method: 'GET' });
    expectProblem(reply, 405, 'method_not_allowed');
    expect(reply.headers.get('allow')).toBe('POST');
    // Refusal rows are written in the background, at most 3 a minute per client address without identity.
    await vi.waitFor(async () => {
      const rows = await env.stack.auditRows();
      const invalid = rows.filter((r) => r.outcome === 'denied' && r.code === 'invalid_token');
      expect(invalid.length).toBeGreaterThanOrEqual(1);
      expect(invalid.every((r) => /^\d{8}-r\d$/.test(String(r.partitionKey)))).toBe(true);
      expect(rows.some((r) => r.outcome === 'denied' && r.code === 'not_granted' && r.caller_appid === env.stack.sandbox.apps.otherCallerApp.clientId)).toBe(true);
    }, { timeout: 10_000, interval: 100 });
  });

  it('makes a request id when the caller sends none or an unsafe one', async () => {
    const reply = await env.stack.vend(env.host, { workspace: 'no-such-ws' }, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(reply.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('GET /api/workspaces and /api/health', () => {
  it('lists only what the caller may vend for', async () => {
    const mine = await env.stack.call(env.host, '/workspaces');
    expect(mine.status).toBe(200);
    expect(JSON.parse(mine.text)).toEqual([
      { name: 'analytics-sandbox', host: env.stack.sandbox.workspaceUrl, resource_id: env.stack.sandbox.workspaceResourceId, modes: ['aad', 'pat', 'user'], max_lifetime_seconds: 3600, management_token: false },
      {
        name: 'analytics-scoped', host: env.stack.sandbox.workspaceUrl, resource_id: env.stack.sandbox.workspaceResourceId, modes: ['oauth', 'pat'], max_lifetime_seconds: 3600, management_token: false,
        scopes: ['clusters:read', 'sql'], default_scopes: ['clusters:read'],
      },
      { name: 'ops-sandbox', host: env.stack.sandbox.workspaceUrl, resource_id: env.stack.sandbox.workspaceResourceId, modes: ['aad'], max_lifetime_seconds: 3600, management_token: true },
    ]);
    const other = await env.stack.callerToken({ clientId: env.stack.sandbox.apps.otherCallerApp.clientId, roles: [] });
    expect(JSON.parse((await env.stack.call(env.host, '/workspaces', { token: other })).text)).toEqual([]);
    expectProblem(await env.stack.call(env.host, '/workspaces', { token: null }), 401, 'invalid_token');
  });

  it('answers health anonymously with names only', async () => {
    const reply = await env.stack.call(env.host, '/health', { token: null });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: 'ok', version: '0.1.0', checks: { config: 'ok', keyvault: 'ok', entra: 'ok', audit: 'ok', audit_key: 'ok', grants: 'ok' } });
    expect(reply.text).not.toContain(env.stack.sandbox.vaultUrl);
  });
});

describe('leaks', () => {
  it('no token or secret in host logs, error bodies or audit rows', async () => {
    expect(env.stack.vendedTokens.length).toBeGreaterThan(2);
    await env.stack.expectNoLeaks();
  });
});
