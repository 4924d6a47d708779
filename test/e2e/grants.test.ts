import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/client/cli';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';
import type { Reply } from './harness';

// Cross-team access over real HTTP: team A owns analytics-sandbox (a group in the config), team
// B's app (the sandbox's other caller, granted nothing by config) gets access through the API.

let stack: Stack;
let hostA: SpawnedHost;
let hostB: SpawnedHost;
const REFRESH_MS = 2_000; // the sandbox's apiGrants.refreshSeconds

beforeAll(async () => {
  stack = await Stack.start();
  [hostA, hostB] = await Promise.all([stack.host(), stack.host()]);
});
afterAll(async () => {
  stack?.sandbox.grants.setDown(false);
  await stack?.finish();
});

const owner = (): Promise<string> => stack.callerToken({ kind: 'user', claims: { groups: [stack.sandbox.apps.teamAGroupId] } });
const teamB = (): Promise<string> => stack.callerToken({ clientId: stack.sandbox.apps.otherCallerApp.clientId, roles: [] });
const vendAsB = async (host: SpawnedHost): Promise<Reply> => stack.vend(host, { workspace: 'analytics-sandbox' }, { token: await teamB() });

function grantBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { workspace: 'analytics-sandbox', callers: { appIds: [stack.sandbox.apps.otherCallerApp.clientId] }, modes: ['aad'], maxLifetimeSeconds: 900, reason: 'team B nightly report', ...extra };
}

/** Polls until `check` holds; returns how long it took. Bounded, and measured rather than assumed. */
async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

async function grantRows(): Promise<Record<string, unknown>[]> {
  const { connectionString, tableName } = stack.sandbox.grants;
  const rows: Record<string, unknown>[] = [];
  for await (const row of TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }).listEntities()) rows.push(row);
  return rows;
}

/** The audit row of a request; refusal rows are written in the background, so it waits for one (bounded). */
async function auditRow(requestId: string): Promise<Record<string, unknown> | undefined> {
  let row: Record<string, unknown> | undefined;
  await until(async () => (row = (await stack.auditRows()).find((r) => r.request_id === requestId)) !== undefined, 10_000).catch(() => undefined);
  return row;
}

describe('grants through the API', () => {
  it('an owner grants team B; team B vends at once here and within the refresh bound on another instance; records name the grant', async () => {
    expect((await vendAsB(hostA)).status).toBe(403);
    const created = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect(created.json).toMatchObject({ workspace: 'analytics-sandbox', status: 'active', source: 'api', createdBy: { kind: 'user' } });
    const expiresInDays = (Date.parse(created.json.expiresAt as string) - Date.now()) / 86_400_000;
    expect(expiresInDays).toBeGreaterThan(89.9);
    expect(expiresInDays).toBeLessThanOrEqual(90);
    const here = await vendAsB(hostA);
    expect(here.status).toBe(200);
    expect(await until(async () => (await vendAsB(hostB)).status === 200, REFRESH_MS + 8_000)).toBeLessThan(REFRESH_MS + 8_000);
    expect(await auditRow(here.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'issued', grant_id: id });
    expect(await auditRow(created.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'grant_created', grant_id: id, workspace: 'analytics-sandbox', caller_kind: 'user' });
    const viaConfig = await stack.vend(hostA, { workspace: 'analytics-sandbox' });
    expect(await auditRow(viaConfig.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'issued', grant_id: 'config:0' });

    const listed = await stack.call(hostA, '/grants?workspace=analytics-sandbox', { token: await owner() });
    expect(listed.status).toBe(200);
    const items = listed.json as unknown as Record<string, unknown>[];
    expect(items.find((g) => g.id === 'config:0')).toMatchObject({ source: 'config', readOnly: true });
    expect(items.find((g) => g.id === id)).toMatchObject({ source: 'api', readOnly: false, status: 'active' });

    // Revoked on A: B stops admitting within the bound, and the row stays, listed as revoked.
    const revoked = await stack.call(hostA, `/grants/${id}`, { method: 'DELETE', token: await owner() });
    expect(revoked.status).toBe(200);
    expect((await vendAsB(hostA)).status).toBe(403);
    const tookMs = await until(async () => (await vendAsB(hostB)).status === 403, REFRESH_MS + 8_000);
    expect(tookMs).toBeLessThan(REFRESH_MS + 8_000);
    const after = (await stack.call(hostB, '/grants?workspace=analytics-sandbox&status=revoked', { token: await owner() })).json as unknown as Record<string, unknown>[];
    expect(after.map((g) => g.id)).toContain(id);
    expect(await auditRow(revoked.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'grant_revoked', grant_id: id });
    expect((await stack.call(hostA, `/grants/${id}`, { method: 'DELETE', token: await owner() })).status).toBe(409);
  });

  it('a non-owner cannot create or revoke: 403, on record, nothing stored', async () => {
    const before = (await grantRows()).length;
    const notOwner = await stack.callerToken(); // holds the vend role for the workspace, not ownership
    const create = await stack.call(hostA, '/grants', { token: notOwner, body: grantBody() });
    expect({ status: create.status, code: create.json.code }).toEqual({ status: 403, code: 'not_granted' });
    expect(await auditRow(create.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'denied', status: 403, action: 'grants.create', workspace: 'analytics-sandbox' });
    const made = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
    const id = made.json.id as string;
    const revoke = await stack.call(hostA, `/grants/${id}`, { method: 'DELETE', token: await teamB() });
    expect(revoke.status).toBe(403);
    expect(await auditRow(revoke.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'denied', status: 403, action: 'grants.revoke', grant_id: id });
    expect((await grantRows()).length).toBe(before + 1);
    expect((await stack.call(hostA, '/grants?workspace=analytics-sandbox', { token: notOwner })).status).toBe(403);
    expect((await stack.call(hostA, `/grants/${id}`, { method: 'DELETE', token: await owner() })).status).toBe(200);
  });

  it('request → approval (narrower) → vend; the requester sees its request approved', async () => {
    const asked = await stack.call(hostA, '/grant-requests', { token: await teamB(), body: { workspace: 'analytics-sandbox', modes: ['aad', 'pat'], reason: 'weekly export' } });
    expect(asked.status).toBe(201);
    expect(asked.json).toMatchObject({ state: 'pending', callers: { appIds: [stack.sandbox.apps.otherCallerApp.clientId] }, modes: ['aad', 'pat'] });
    const pending = (await stack.call(hostA, '/grant-requests?workspace=analytics-sandbox', { token: await owner() })).json as unknown as { id: string }[];
    expect(pending.map((r) => r.id)).toContain(asked.json.id);
    const wider = await stack.call(hostA, `/grant-requests/${String(asked.json.id)}/approve`, { token: await owner(), body: { managementToken: true } });
    expect({ status: wider.status, code: wider.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    const approved = await stack.call(hostA, `/grant-requests/${String(asked.json.id)}/approve`, { token: await owner(), body: { modes: ['aad'], note: 'aad only' } });
    expect(approved.status).toBe(201);
    const grant = approved.json.grant as Record<string, unknown>;
    expect(grant).toMatchObject({ modes: ['aad'], fromRequest: asked.json.id, reason: 'weekly export' });
    expect((await vendAsB(hostA)).status).toBe(200);
    expect((await stack.vend(hostA, { workspace: 'analytics-sandbox', mode: 'pat' }, { token: await teamB() })).status).toBe(403);
    const mine = (await stack.call(hostA, '/grant-requests', { token: await teamB() })).json as unknown as Record<string, unknown>[];
    expect(mine.find((r) => r.id === asked.json.id)).toMatchObject({ state: 'approved', grantId: grant.id });
    expect(await auditRow(approved.headers.get('x-request-id') ?? '')).toMatchObject({ outcome: 'grant_approved', workspace: 'analytics-sandbox' });
    expect((await stack.call(hostA, `/grant-requests/${String(asked.json.id)}/decline`, { method: 'POST', token: await owner() })).status).toBe(409);
    expect((await stack.call(hostA, `/grants/${String(grant.id)}`, { method: 'DELETE', token: await owner() })).status).toBe(200);
  });

  it('an expired grant stops admitting at once and is listed as expired', async () => {
    const made = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
    const id = made.json.id as string;
    // Its expiry brought forward in the table (the API refuses expiries under a minute): 4 s from now.
    const client = TableClient.fromConnectionString(stack.sandbox.grants.connectionString, stack.sandbox.grants.tableName, { allowInsecureConnection: true });
    const row = await client.getEntity<{ doc: string }>('grant', id);
    const expiresAt = Date.now() + 4_000;
    await client.updateEntity({ partitionKey: 'grant', rowKey: id, doc: JSON.stringify({ ...JSON.parse(row.doc), expiresAt: new Date(expiresAt).toISOString() }) }, 'Merge');
    await until(async () => (await stack.call(hostB, '/grants?workspace=analytics-sandbox', { token: await owner() })).text.includes(new Date(expiresAt).toISOString()), 5_000);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now())));
    expect((await vendAsB(hostB)).status).toBe(403);
    const listed = (await stack.call(hostB, '/grants?workspace=analytics-sandbox&status=expired', { token: await owner() })).json as unknown as Record<string, unknown>[];
    expect(listed.map((g) => g.id)).toContain(id);
  });

  it('malformed or oversized bodies: problem+json, nothing stored', async () => {
    const before = (await grantRows()).length;
    const token = await owner();
    const cases: [unknown, number][] = [
      ['{not json', 400],
      [grantBody({ extra: 1 }), 400],
      [grantBody({ modes: ['root'] }), 400],
      [grantBody({ modes: ['oauth'] }), 400], // the config grant's own check: oauth needs scopes
      [grantBody({ expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }), 400],
      [grantBody({ reason: '' }), 400],
      [grantBody({ workspace: 'bad\u202ename' }), 400],
      [grantBody({ reason: 'x'.repeat(20_000) }), 413],
    ];
    for (const [body, status] of cases) {
      const reply = await stack.call(hostA, '/grants', { token, body });
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(reply.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await stack.call(hostA, '/grant-requests', { token: await teamB(), body: { workspace: 'analytics-sandbox' } })).status).toBe(400);
    expect((await grantRows()).length).toBe(before);
  });

  it('no record, no change: with the audit table down a grant is neither created nor revoked', async () => {
    const made = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
    const before = JSON.stringify(await grantRows());
    stack.sandbox.audit.setDown(true);
    try {
      const create = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
      expect({ status: create.status, code: create.json.code }).toEqual({ status: 503, code: 'audit_unavailable' });
      expect((await stack.call(hostA, `/grants/${String(made.json.id)}`, { method: 'DELETE', token: await owner() })).status).toBe(503);
    } finally {
      stack.sandbox.audit.setDown(false);
    }
    expect(JSON.stringify(await grantRows())).toBe(before);
    expect((await stack.call(hostA, `/grants/${String(made.json.id)}`, { method: 'DELETE', token: await owner() })).status).toBe(200);
  });

  it('grants survive a restart: a fresh host admits the API grant once it has read the table', async () => {
    const made = await stack.call(hostA, '/grants', { token: await owner(), body: grantBody() });
    const fresh = await stack.host();
    await until(async () => (await vendAsB(fresh)).status === 200, REFRESH_MS + 8_000);
    expect((await stack.call(fresh, `/grants/${String(made.json.id)}`, { method: 'DELETE', token: await owner() })).status).toBe(200);
    expect((await vendAsB(fresh)).status).toBe(403);
    await fresh.stop();
  });

  it('grants table down: the last good set for a bounded time (said in health), then API grants fail closed; config grants unaffected', async () => {
    const config = { ...stack.sandbox.config, apiGrants: { refreshSeconds: 1, maxStaleSeconds: 5 } };
    const host = await stack.host({ VENDING_CONFIG: JSON.stringify(config) });
    const made = await stack.call(host, '/grants', { token: await owner(), body: grantBody() });
    await until(async () => (await vendAsB(host)).status === 200, 5_000);
    stack.sandbox.grants.setDown(true);
    try {
      await until(async () => (await stack.call(host, '/health', { token: null })).json.checks !== undefined && ((await stack.call(host, '/health', { token: null })).json.checks as Record<string, string>).grants === 'stale', 15_000);
      expect((await vendAsB(host)).status).toBe(200);
      expect((await stack.call(host, '/grants', { token: await owner(), body: grantBody() })).status).toBe(503);
      await until(async () => (await vendAsB(host)).status === 403, 15_000);
      const health = await stack.call(host, '/health', { token: null });
      expect(health.json).toMatchObject({ status: 'degraded', checks: { grants: 'failing' } });
      expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    } finally {
      stack.sandbox.grants.setDown(false);
    }
    await until(async () => (await vendAsB(host)).status === 200, 15_000);
    expect((await stack.call(host, `/grants/${String(made.json.id)}`, { method: 'DELETE', token: await owner() })).status).toBe(200);
    await host.stop();
  });

  it('dbx-vend grants: request, review, approve over the CLI; tables or --json; exit codes like the rest of the CLI', async () => {
    const run = async (token: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: { DBX_VEND_ENDPOINT: hostA.url, DBX_VEND_CALLER_TOKEN: token } };
      return { code: await runCli(['grants', ...argv], io), out, err };
    };
    const [b, a] = [await teamB(), await owner()];
    const asked = await run(b, 'request', '--workspace', 'analytics-sandbox', '--mode', 'pat', '--max-lifetime', '600', '--reason', 'cli walkthrough', '--json');
    expect(asked.code).toBe(0);
    const id = (JSON.parse(asked.out) as { id: string }).id;
    const review = await run(a, 'requests', '--workspace', 'analytics-sandbox');
    expect(review).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^ID +WORKSPACE +STATE[^]*${id} +analytics-sandbox +pending`)) as string });
    expect((await run(b, 'approve', '--id', id)).code).toBe(3); // team B is no owner: refused
    expect((await run(a, 'approve')).code).toBe(2); // --id missing: usage
    const approved = await run(a, 'approve', '--id', id, '--max-lifetime', '300', '--expires', '1d', '--json');
    expect(approved.code).toBe(0);
    const grant = (JSON.parse(approved.out) as { grant: { id: string; maxLifetimeSeconds: number } }).grant;
    expect(grant.maxLifetimeSeconds).toBe(300);
    expect((await stack.vend(hostA, { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 300 }, { token: b })).status).toBe(200);
    expect((await run(a, 'list', '--workspace', 'analytics-sandbox', '--status', 'active')).out).toContain(grant.id);
    expect((await run(a, 'revoke', '--id', grant.id)).code).toBe(0);
    expect((await run(a, 'revoke', '--id', grant.id)).code).toBe(3);
    expect((await stack.vend(hostA, { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 300 }, { token: b })).status).toBe(403);
  });
});
