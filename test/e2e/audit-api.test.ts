import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_AUDITOR_ROLE } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';
import type { Reply } from './harness';

// GET /api/audit and POST /api/audit/lookup over real HTTP, against rows the same host wrote.
let stack: Stack;
let host: SpawnedHost;
const auditorApp = randomUUID();
const answers: Reply[] = [];
const vends: { requestId: string; tokenId: string; token: string }[] = [];
let successfulReads = 0;

beforeAll(async () => {
  ({ stack, host } = await Stack.withHost());
  // The 200 answers of the audit API are part of the leak scan too (the harness scans only refusals).
  stack.haystacks.push(() => Promise.resolve(answers.map((a) => a.text).join('\n')));
  // Entra ID (aad) tokens come from the SP's token cache, so those four share one token; the PAT is its own.
  for (let i = 0; i < 4; i++) await vendOnce({});
  await vendOnce({ mode: 'pat' });
  await vendOnce({ kind: 'user' });
  // denied: a caller with no role; failed: Key Vault down.
  expect((await stack.vend(host, { workspace: 'analytics-sandbox' }, { token: await stack.callerToken({ clientId: stack.sandbox.apps.otherCallerApp.clientId, roles: [] }) })).status).toBe(403);
  stack.sandbox.vault.setDown(true);
  const fresh = await stack.host();
  expect((await stack.vend(fresh, { workspace: 'ops-sandbox' })).status).toBe(503);
  stack.sandbox.vault.setDown(false);
  await waitForRows((rows) => rows.some((r) => r.outcome === 'denied') && rows.some((r) => r.outcome === 'failed'));
});
afterAll(async () => {
  stack?.sandbox.vault.setDown(false);
  await stack?.finish();
});

async function vendOnce(opts: { kind?: 'user'; mode?: 'pat' }): Promise<void> {
  const body = { workspace: 'analytics-sandbox', purpose: 'audit api test', ...(opts.mode ? { mode: opts.mode } : {}) };
  const res = await stack.vend(host, body, { token: await stack.callerToken(opts.kind ? { kind: opts.kind } : {}) });
  expect(res.status).toBe(200);
  vends.push({ requestId: String(res.json.request_id), tokenId: String(res.json.token_id), token: String(res.json.access_token) });
}

async function auditorToken(): Promise<string> {
  return stack.callerToken({ clientId: auditorApp, roles: [SANDBOX_AUDITOR_ROLE] });
}

async function read(query: string, token?: string): Promise<Reply> {
  const reply = await stack.call(host, `/audit${query}`, { token: token ?? (await auditorToken()) });
  answers.push(reply);
  if (reply.status === 200) successfulReads += 1;
  return reply;
}

async function lookup(body: unknown): Promise<Reply> {
  const reply = await stack.call(host, '/audit/lookup', { token: await auditorToken(), body });
  answers.push(reply);
  if (reply.status === 200) successfulReads += 1;
  return reply;
}

type Row = Record<string, unknown>;
const itemsOf = (r: Reply): Row[] => r.json.items as Row[];

async function waitForRows(done: (rows: Row[]) => boolean): Promise<Row[]> {
  for (const until = Date.now() + 30_000; ; await sleep(100)) {
    const rows = await stack.auditRows();
    if (done(rows) || Date.now() > until) return rows;
  }
}

describe('GET /api/audit', () => {
  it('refuses a caller who is not an auditor with 403, and that refusal is on record', async () => {
    const token = await stack.callerToken();
    const refused = await read('?workspace=analytics-sandbox', token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.json).toMatchObject({ code: 'not_granted', detail: 'This caller may not read the audit trail.' });
    const requestId = refused.headers.get('x-request-id');
    const rows = await waitForRows((all) => all.some((r) => r.request_id === requestId));
    const row = rows.find((r) => r.request_id === requestId);
    expect(row).toMatchObject({ outcome: 'denied', code: 'not_granted', caller_appid: stack.sandbox.apps.callerApp.clientId });
    // Only the parameter names are kept for a refused read.
    expect(JSON.parse(String(row?.audit_query))).toEqual({ params: ['workspace'] });
  });

  it('gives an auditor issued, denied and failed rows, newest first, by default over the last 24 h', async () => {
    const reply = await read('');
    expect(reply.status).toBe(200);
    const items = itemsOf(reply);
    expect(new Set(items.map((r) => r.outcome))).toEqual(new Set(['issued', 'denied', 'failed']));
    const times = items.map((r) => String(r.time));
    expect(times).toEqual([...times].sort().reverse());
    expect(Date.parse(String(reply.json.until)) - Date.parse(String(reply.json.since))).toBe(86_400_000);
    for (const row of items) for (const k of ['partitionKey', 'rowKey', 'etag', 'timestamp']) expect(row).not.toHaveProperty(k);
    expect(reply.json.continuation).toBeUndefined();
  });

  it('filters by workspace, caller (app id or object id), outcome, token_id and time', async () => {
    const byWorkspace = itemsOf(await read('?workspace=ops-sandbox&since=1h'));
    expect(byWorkspace.map((r) => r.outcome)).toEqual(['failed']);
    const byApp = itemsOf(await read(`?caller=${stack.sandbox.apps.callerApp.clientId.toUpperCase()}&outcome=issued&since=1h`));
    // The delegated user came through the caller app, so the app id matches all six.
    expect(byApp.map((r) => r.request_id).sort()).toEqual(vends.map((v) => v.requestId).sort());
    const pat = vends[4];
    const patRow = itemsOf(await read(`?token_id=${pat?.tokenId}&since=1h`));
    expect(patRow).toHaveLength(1);
    expect(patRow[0]).toMatchObject({ request_id: pat?.requestId, mode: 'pat', outcome: 'issued' });
    const user = vends[5];
    const userRow = itemsOf(await read('?outcome=issued&since=1h')).filter((r) => r.caller_kind === 'user');
    expect(userRow.map((r) => r.request_id)).toEqual([user?.requestId]);
    const byOid = itemsOf(await read(`?caller=${String(userRow[0]?.caller_oid)}&since=1h`));
    expect(byOid.map((r) => r.request_id)).toEqual([user?.requestId]);
    const denied = itemsOf(await read('?outcome=denied&workspace=analytics-sandbox&since=1h'));
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied.every((r) => r.outcome === 'denied' && r.caller_appid === stack.sandbox.apps.otherCallerApp.clientId)).toBe(true);
    expect(itemsOf(await read('?outcome=failed&since=1h')).every((r) => r.outcome === 'failed')).toBe(true);
    const before = new Date(Date.parse(String(byApp.at(-1)?.time)) - 1).toISOString();
    expect(itemsOf(await read(`?outcome=issued&until=${before}&since=2h`))).toEqual([]);
    expect(itemsOf(await read(`?outcome=issued&since=${encodeURIComponent(before)}`)).length).toBe(6);
  });

  it('pages through more than one page with the continuation, without gaps or repeats', async () => {
    const all = itemsOf(await read('?outcome=issued&limit=1000&since=1h')).map((r) => r.request_id);
    expect(all.length).toBe(6);
    const paged: unknown[] = [];
    let pages = 0;
    let continuation: string | undefined;
    do {
      const reply = await read(`?outcome=issued&limit=4&since=1h${continuation ? `&continuation=${continuation}` : ''}`);
      expect(reply.status).toBe(200);
      paged.push(...itemsOf(reply).map((r) => r.request_id));
      continuation = reply.json.continuation as string | undefined;
      pages += 1;
    } while (continuation);
    expect(pages).toBe(2);
    expect(paged).toEqual(all);
  });

  it('answers 400 problem+json for bad filters', async () => {
    const bad = ['?since=yesterday', '?limit=0', '?limit=1001', '?outcome=bogus', '?caller=someone', '?colour=red', '?since=40d', '?since=1h&until=2h',
      '?continuation=garbage', '?token_id=dapi0123456789abcdef0123456789abcdef', '?workspace=a%20b', '?limit=1&limit=2'];
    for (const query of bad) {
      const reply = await read(query);
      expect(reply.status, query).toBe(400);
      expect(reply.headers.get('content-type')).toContain('application/problem+json');
      expect(reply.json.code).toBe('invalid_request');
    }
  });
});

describe('POST /api/audit/lookup', () => {
  it('finds the issuance of a token given in the body', async () => {
    const target = vends[4];
    const found = await lookup({ token: target?.token, since: '1h' });
    expect(found.status).toBe(200);
    expect(itemsOf(found)).toHaveLength(1);
    expect(itemsOf(found)[0]).toMatchObject({ request_id: target?.requestId, token_id: target?.tokenId, mode: 'pat', outcome: 'issued', token_fingerprint: found.json.fingerprint });
    // A cached Entra ID token was handed out more than once: every issuance of it is found.
    const shared = await lookup({ token: vends[0]?.token });
    expect(itemsOf(shared).map((r) => r.request_id).sort()).toEqual(vends.filter((v) => v.token === vends[0]?.token).map((v) => v.requestId).sort());
    expect(itemsOf(shared).length).toBeGreaterThanOrEqual(2);
    expect(itemsOf(await lookup({ token: 'not a token anyone was given', since: '2d' }))).toEqual([]);
    expect((await lookup({ token: '' })).status).toBe(400);
    expect((await lookup({ token: target?.token, extra: 1 })).status).toBe(400);
  });
});

describe('reads on record', () => {
  it('records every read as audit_read with its filters, the lookup by fingerprint only', async () => {
    const rows = await waitForRows(() => true);
    const reads = rows.filter((r) => r.outcome === 'audit_read');
    expect(reads.length).toBe(successfulReads);
    expect(reads.every((r) => r.caller_appid === auditorApp && r.status === 200)).toBe(true);
    const queries = reads.map((r) => JSON.parse(String(r.audit_query)) as Row);
    expect(queries).toContainEqual(expect.objectContaining({ workspace: 'ops-sandbox', limit: 100 }));
    expect(queries).toContainEqual(expect.objectContaining({ outcome: 'issued', limit: 4, continued: true }));
    expect(queries.filter((q) => q.lookup === 'token').every((q) => typeof q.token_fingerprint === 'string')).toBe(true);
    // Bad filters are refusals: on record as denied, with parameter names only.
    expect(rows.filter((r) => r.outcome === 'denied' && r.caller_appid === auditorApp).length).toBeGreaterThan(0);
  });
});
