import { afterEach, describe, expect, it, vi } from 'vitest';
import { fingerprintToken } from '../../src/core/audit';
import type { AuditFilter, AuditReader, AuditRecord, AuditRow } from '../../src/core/audit';
import { dayOf, kindOf, partitionKey, rowKey } from '../../src/core/audit/partition-layout';
import { lookupAudit, readAudit } from '../../src/core/audit-api';
import { loadConfig } from '../../src/core/config';
import { AuditUnavailableError, InvalidRequestError, InvalidTokenError, NotGrantedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { CoreResponse, IncomingBody } from '../../src/core/http';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileAuditors, compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import { HealthTracker } from '../../src/core/vend';
import { loadAnew } from '../support/load-anew';
import type { VendDeps } from '../../src/core/vend';

// GET /api/audit and POST /api/audit/lookup in process: the real core over an in-memory table
// that answers partition + RowKey-range queries with equality filters, as Table storage does.

const HOME = '11111111-2222-3333-4444-555555555555';
const AUDITOR_APP = 'aaaaaaaa-0000-4000-8000-00000000000a';
const USER_OID = 'bbbbbbbb-0000-4000-8000-00000000000b';
const NOW = Date.parse('2026-11-29T12:00:00.000Z');
const H = 3_600_000;
const DAY = 24 * H;
const KEY = Buffer.alloc(32, 7);

function makeConfig(auditors: unknown) {
  return loadConfig({
    VENDING_CONFIG: JSON.stringify({
      cloud: 'AzurePublic',
      tenantId: HOME,
      callers: { audiences: ['api://dbx'], allowedTenants: [HOME] },
      keyVaultUrl: 'https://kv.vault.azure.net',
      servicePrincipals: { sp: { clientId: '22222222-3333-4444-5555-666666666666', secret: 's' } },
      workspaces: { prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/p', servicePrincipal: 'sp' } },
      grants: [],
      ...(auditors === null ? {} : { auditors }),
    }),
    AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
    AUDIT_HMAC_KEY: KEY.toString('base64'),
  });
}

const auditor: CallerIdentity = { tenantId: HOME, objectId: 'oid-auditor', appId: AUDITOR_APP, roles: [], kind: 'app', name: undefined };
const other: CallerIdentity = { tenantId: HOME, objectId: USER_OID, appId: 'app-x', roles: ['Vend.Prod'], kind: 'user', name: undefined };

/** Rows by partition; each query is noted (partition, range) so tests see what was read. */
function memoryTable() {
  const rows: AuditRow[] = [];
  const queries: { pk: string; from: string; to: string }[] = [];
  let failing: Error | undefined;
  const reader: AuditReader = {
    async *list(pk: string, from: string, to: string, filter: AuditFilter) {
      queries.push({ pk, from, to });
      await Promise.resolve();
      if (failing) throw failing;
      for (const row of rows.filter((r) => r.partitionKey === pk && r.rowKey >= from && r.rowKey < to).sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1))) {
        const ok = Object.entries(filter).every(([k, v]) => (k === 'caller' ? row.caller_oid === v || row.caller_appid === v : row[k] === v));
        if (ok) yield row;
      }
    },
  };
  const add = (r: AuditRecord, bucket = 0) => rows.push({ ...r, partitionKey: partitionKey(dayOf(r.time), kindOf(r.outcome), bucket), rowKey: rowKey(r.time, r.request_id), etag: 'W/x', timestamp: 't' });
  return { rows, queries, reader, add, fail: (e: Error | undefined) => (failing = e) };
}

function record(atMs: number, id: string, over: Partial<AuditRecord> = {}): AuditRecord {
  return { request_id: id, time: new Date(atMs).toISOString(), outcome: 'issued', status: 200, code: 'ok', caller_tid: HOME, caller_oid: USER_OID, caller_appid: 'app-x', workspace: 'prod', token_id: `tok-${id}`, latency_ms: 1, ...over };
}

type AuditApi = { readAudit: typeof readAudit; lookupAudit: typeof lookupAudit };

function world(auditors: unknown = { callers: { appIds: [AUDITOR_APP] }, maxSpanDays: 7 }, over: Partial<VendDeps> = {}, api: AuditApi = { readAudit, lookupAudit }) {
  const config = makeConfig(auditors);
  const table = memoryTable();
  const written: AuditRecord[] = [];
  let auditDown = false;
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: (auth) => (auth === 'Bearer auditor' ? Promise.resolve(auditor) : auth === 'Bearer other' ? Promise.resolve(other) : Promise.reject(new InvalidTokenError('The token is malformed.'))),
    limiter: new RateLimiter(1000, { now: () => NOW }),
    minter: { getToken: () => Promise.reject(new Error('unused')) },
    audit: { record: (r) => (auditDown ? Promise.reject(new AuditUnavailableError(new Error('down'))) : (written.push(r), table.add(r), Promise.resolve())) },
    auditKey: new FixedAuditKey(KEY),
    clock: { now: () => NOW },
    health: new HealthTracker(),
    pats: { create: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')), list: () => Promise.reject(new Error('unused')) },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
    auditors: compileAuditors(config.auditors, config.tenantId),
    auditReader: table.reader,
    ...over,
  };
  const ctx = (as: string) => ({ requestId: `read-${as}-${written.length}`, authorization: `Bearer ${as}`, sourceIp: '10.1.1.1', userAgent: 'ua' });
  const read = async (query: string, as = 'auditor', decision: { startedAt: number; auditQuery?: string } = { startedAt: NOW }) => {
    const res: CoreResponse = await api.readAudit(deps, ctx(as), new URLSearchParams(query), decision);
    return { status: res.status, body: res.body as { since: string; until: string; items: Record<string, unknown>[]; continuation?: string }, decision };
  };
  const lookup = async (body: unknown, as = 'auditor', decision: { startedAt: number; auditQuery?: string } = { startedAt: NOW }) => {
    const incoming: IncomingBody = { contentType: 'application/json', readBody: () => Promise.resolve(JSON.stringify(body)) };
    const res = await api.lookupAudit(deps, ctx(as), incoming, decision);
    return { status: res.status, body: res.body as { fingerprint: string; since: string; until: string; items: Record<string, unknown>[] }, decision };
  };
  return { table, written, read, lookup, setAuditDown: (v: boolean) => (auditDown = v) };
}

const ids = (items: Record<string, unknown>[]) => items.map((i) => i.request_id);

describe('GET /api/audit core', () => {
  it('answers the last 24 h newest first, without storage fields, and records the read first', async () => {
    const w = world();
    w.table.add(record(NOW - 25 * H, 'too-old'));
    w.table.add(record(NOW - 2 * H, 'b'), 3);
    w.table.add(record(NOW - 1 * H, 'c'), 5);
    w.table.add(record(NOW - 3 * H, 'a', { outcome: 'denied', status: 403, code: 'not_granted' }), 1);
    w.table.add(record(NOW, 'at-until'));
    const res = await w.read('');
    expect(res.status).toBe(200);
    expect(res.body.since).toBe(new Date(NOW - DAY).toISOString());
    expect(res.body.until).toBe(new Date(NOW).toISOString());
    // The audit_read row written just now is at NOW, the exclusive bound: not in this page.
    expect(ids(res.body.items)).toEqual(['c', 'b', 'a']);
    expect(res.body.continuation).toBeUndefined();
    expect(Object.keys(res.body.items[0] ?? {})).not.toContain('partitionKey');
    expect(Object.keys(res.body.items[0] ?? {})).not.toContain('etag');
    expect(res.body.items[0]).toMatchObject({ token_id: 'tok-c', workspace: 'prod' });
    expect(w.written).toHaveLength(1);
    expect(w.written[0]).toMatchObject({ outcome: 'audit_read', status: 200, code: 'audit_read', caller_appid: AUDITOR_APP });
    expect(JSON.parse(w.written[0]?.audit_query as string)).toEqual({ since: new Date(NOW - DAY).toISOString(), until: new Date(NOW).toISOString(), limit: 100 });
  });

  it('reads only the partitions of the asked kind, hour slices by default and day slices for a selective filter', async () => {
    const w = world();
    await w.read('since=2h&outcome=denied');
    const pks = new Set(w.table.queries.map((q) => q.pk));
    expect([...pks].sort()).toEqual(['20261129', '20261129-r0', '20261129-r1', '20261129-r2', '20261129-r3']);
    expect(w.table.queries.length).toBe(2 * 5);
    expect(w.table.queries[0]).toMatchObject({ from: '20261129T110000.000Z', to: '20261129T120000.000Z' });
    w.table.queries.length = 0;
    await w.read(`since=2h&caller=${USER_OID}`);
    expect(w.table.queries.length).toBe(13);
    expect(w.table.queries.every((q) => q.from === '20261129T100000.000Z' && q.to === '20261129T120000.000Z')).toBe(true);
    w.table.queries.length = 0;
    await w.read('since=2h&token_id=abc');
    expect(w.table.queries.length).toBe(13);
  });

  it('applies each filter: workspace, caller (oid or app id), outcome, token_id', async () => {
    const w = world();
    w.table.add(record(NOW - 1 * H, 'r1', { workspace: 'dev' }));
    w.table.add(record(NOW - 2 * H, 'r2', { caller_oid: 'o2', caller_appid: AUDITOR_APP.replace('a', 'c') }));
    w.table.add(record(NOW - 3 * H, 'r3', { outcome: 'denied', status: 403, code: 'not_granted' }));
    w.table.add(record(NOW - 4 * H, 'r4'));
    expect(ids((await w.read('workspace=dev')).body.items)).toEqual(['r1']);
    expect(ids((await w.read(`caller=${USER_OID.toUpperCase()}`)).body.items)).toEqual(['r1', 'r3', 'r4']);
    expect(ids((await w.read(`caller=${AUDITOR_APP.replace('a', 'c')}`)).body.items)).toEqual(['r2']);
    expect(ids((await w.read('outcome=denied')).body.items)).toEqual(['r3']);
    expect(ids((await w.read('token_id=tok-r4')).body.items)).toEqual(['r4']);
    expect(ids((await w.read('since=2026-11-29T08:30:00Z&until=2026-11-29T10:30:00Z')).body.items)).toEqual(['r2', 'r3']);
    // Six reads before, and this one: recorded before it reads, so it finds itself.
    const reads = (await w.read('outcome=audit_read&until=2026-11-29T12:00:01Z')).body.items;
    expect(reads.length).toBe(7);
    expect(reads.every((r) => r.outcome === 'audit_read' && r.caller_appid === AUDITOR_APP)).toBe(true);
  });

  it('pages with a continuation that resumes over the same window, and gives none on the last page', async () => {
    const w = world();
    for (let i = 1; i <= 5; i++) w.table.add(record(NOW - i * H, `p${i}`), i % 3);
    const first = await w.read('since=6h&limit=2&workspace=prod');
    expect(ids(first.body.items)).toEqual(['p1', 'p2']);
    expect(first.body.continuation).toEqual(expect.any(String));
    const second = await w.read(`limit=2&workspace=prod&continuation=${first.body.continuation}`);
    expect(ids(second.body.items)).toEqual(['p3', 'p4']);
    expect(second.body.since).toBe(first.body.since);
    expect(JSON.parse(w.written.at(-1)?.audit_query as string)).toMatchObject({ continued: true, limit: 2 });
    const third = await w.read(`limit=2&workspace=prod&continuation=${second.body.continuation}`);
    expect(ids(third.body.items)).toEqual(['p5']);
    expect(third.body.continuation).toBeUndefined();
    const exact = await w.read('since=6h&limit=5&workspace=prod');
    expect(exact.body.items).toHaveLength(5);
    expect(exact.body.continuation).toBeUndefined();
  });

  it('limit: 1,000 is allowed, 1,001 and 0 are 400 before anything is recorded or read', async () => {
    const w = world();
    expect((await w.read('limit=1000')).status).toBe(200);
    expect((await w.read('limit=1')).status).toBe(200);
    const before = { written: w.written.length, queries: w.table.queries.length };
    for (const q of ['limit=1001', 'limit=0', 'limit=ten', 'since=8d', 'bogus=1']) await expect(w.read(q), q).rejects.toThrow(InvalidRequestError);
    expect({ written: w.written.length, queries: w.table.queries.length }).toEqual(before);
  });

  it('the span bound comes from the config: 7 days allowed, more refused; without a bound, 31 days', async () => {
    const w = world();
    expect((await w.read('since=7d')).body.since).toBe(new Date(NOW - 7 * DAY).toISOString());
    await expect(w.read('since=169h')).rejects.toThrow(/more than 7 days/);
    const d = world({ callers: { appIds: [AUDITOR_APP] } });
    expect((await d.read('since=31d')).status).toBe(200);
    await expect(d.read('since=32d')).rejects.toThrow(/more than 31 days/);
  });

  it('403 for a caller who is not an auditor, and for everyone when no auditors are configured: nothing recorded or read', async () => {
    const w = world();
    await expect(w.read('', 'other')).rejects.toThrow(NotGrantedError);
    const none = world(null);
    await expect(none.read('')).rejects.toThrow(NotGrantedError);
    expect(w.written.length + none.written.length + w.table.queries.length + none.table.queries.length).toBe(0);
    await expect(w.read('', 'nobody')).rejects.toThrow(InvalidTokenError);
  });

  it('keeps only parameter names in the decision until the filters are valid, then the whole query', async () => {
    const w = world();
    const decision: { startedAt: number; auditQuery?: string } = { startedAt: NOW };
    await expect(w.read('token_id=sec%27ret&since=nonsense', 'auditor', decision)).rejects.toThrow(InvalidRequestError);
    expect(JSON.parse(decision.auditQuery ?? '')).toEqual({ params: ['token_id', 'since'] });
    expect(decision.auditQuery).not.toContain('sec');
    const refused: { startedAt: number; auditQuery?: string } = { startedAt: NOW };
    await expect(w.read('workspace=prod', 'other', refused)).rejects.toThrow(NotGrantedError);
    expect(JSON.parse(refused.auditQuery ?? '')).toEqual({ params: ['workspace'] });
    const res = await w.read('workspace=prod&outcome=issued');
    expect(JSON.parse(res.decision.auditQuery ?? '')).toEqual({ since: new Date(NOW - DAY).toISOString(), until: new Date(NOW).toISOString(), workspace: 'prod', outcome: 'issued', limit: 100 });
  });

  it('fails closed: no audit_read record, no read; a store failure or missing reader is 503 upstream', async () => {
    const w = world();
    w.setAuditDown(true);
    await expect(w.read('')).rejects.toThrow(AuditUnavailableError);
    expect(w.table.queries).toHaveLength(0);
    w.setAuditDown(false);
    w.table.fail(Object.assign(new Error('https://st.table/?sig=SECRET'), { statusCode: 500 }));
    const err = await w.read('').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toBe('The audit table could not be read.');
    const noReader = world(null, { auditors: compileAuditors({ callers: { appIds: [AUDITOR_APP], roles: [], objectIds: [] }, maxSpanDays: 7 }, HOME), auditReader: undefined });
    await expect(noReader.read('')).rejects.toThrow('The audit table cannot be read by this instance.');
  });
});

describe('POST /api/audit/lookup core', () => {
  it('finds the issuance of a token by its fingerprint over the whole span, never keeping the token', async () => {
    const w = world();
    const token = 'eyJhbGciOiJub25lIn0.eyJ1dGkiOiJ4In0.c2ln';
    w.table.add(record(NOW - 6 * DAY, 'found', { token_fingerprint: fingerprintToken(token, KEY) }));
    w.table.add(record(NOW - 1 * H, 'other', { token_fingerprint: fingerprintToken('another', KEY) }));
    const res = await w.lookup({ token });
    expect(res.status).toBe(200);
    expect(res.body.fingerprint).toBe(fingerprintToken(token, KEY));
    expect(res.body.since).toBe(new Date(NOW - 7 * DAY).toISOString());
    expect(ids(res.body.items)).toEqual(['found']);
    expect(w.written).toHaveLength(1);
    expect(w.written[0]?.outcome).toBe('audit_read');
    const q = JSON.parse(w.written[0]?.audit_query as string) as Record<string, unknown>;
    expect(q).toMatchObject({ lookup: 'token', token_fingerprint: res.body.fingerprint, limit: 1000 });
    expect(JSON.stringify(w.written) + JSON.stringify(res.body)).not.toContain(token);
    expect(new Set(w.table.queries.map((x) => x.pk)).has('20261129-r0')).toBe(false);
    // A fingerprint picks few rows: day slices over 8 calendar days, 9 issuance partitions each.
    expect(w.table.queries).toHaveLength(8 * 9);
  });

  it('narrows by since/until, refuses strangers (403, nothing read) and bad bodies (400)', async () => {
    const w = world();
    const token = 'tok-abc';
    w.table.add(record(NOW - 3 * DAY, 'old', { token_fingerprint: fingerprintToken(token, KEY) }));
    expect(ids((await w.lookup({ token, since: '2d' })).body.items)).toEqual([]);
    expect(ids((await w.lookup({ token, since: '4d', until: '2d' })).body.items)).toEqual(['old']);
    await expect(w.lookup({ token, since: '8d' })).rejects.toThrow(/more than 7 days/);
    await expect(w.lookup({ token }, 'other')).rejects.toThrow(NotGrantedError);
    await expect(w.lookup({ token: '' })).rejects.toThrow(InvalidRequestError);
    await expect(w.lookup({ token, extra: 1 })).rejects.toThrow(InvalidRequestError);
    expect(w.written).toHaveLength(2);
  });
});

describe('audit reads: bounds and words', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a non-auditor with words that do not reveal the setting; keeps at most 20 parameter names of 40 characters', async () => {
    const w = world();
    const err = await w.read('', 'other').catch((e: unknown) => e);
    expect((err as NotGrantedError).detail).toBe('This caller may not read the audit trail.');
    const decision: { startedAt: number; auditQuery?: string } = { startedAt: NOW };
    const names = Array.from({ length: 25 }, (_, i) => `${String(i).padStart(2, '0')}${'n'.repeat(50)}`);
    await expect(w.read(names.map((n) => `${n}=1`).join('&'), 'other', decision)).rejects.toThrow(NotGrantedError);
    expect(JSON.parse(decision.auditQuery ?? '')).toEqual({ params: names.slice(0, 20).map((n) => n.slice(0, 40)) });
  });

  it('a table that does not answer is 503 within our own deadline, naming it in seconds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const hung: AuditReader = {
      // eslint-disable-next-line require-yield
      async *list() {
        await new Promise(() => undefined);
      },
    };
    const w = world(undefined, { auditReader: hung });
    const pending = w.read('').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20_000);
    const err = await pending;
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toBe('The audit table did not answer within 20 s.');
  });

  it('a refused lookup is recorded as a lookup, with nothing of the body', async () => {
    const w = world();
    const decision: { startedAt: number; auditQuery?: string } = { startedAt: NOW };
    await expect(w.lookup({ token: 'tok-secret' }, 'other', decision)).rejects.toThrow(NotGrantedError);
    expect(decision.auditQuery).toBe('{"lookup":true}');
  });
});

// What the modules build when they load (the storage fields left out, the lookup body's schema):
// the audit API loaded anew (see loadAnew); its errors are then its own classes, so they are
// matched by code.
describe('audit reads: what the modules build when they load', () => {
  const fresh = (): Promise<AuditApi> => loadAnew(() => import('../../src/core/audit-api/index.js'));

  it('an item is the record alone: every storage field is left out', async () => {
    const w = world(undefined, {}, await fresh());
    const r = record(NOW - H, 'x');
    w.table.rows.push({ ...r, partitionKey: partitionKey(dayOf(r.time), kindOf(r.outcome), 0), rowKey: rowKey(r.time, r.request_id), etag: 'W/x', timestamp: 't', 'odata.etag': 'W/y' });
    const { items } = (await w.read('since=2h')).body;
    expect(items).toHaveLength(1);
    expect(Object.keys(items[0] ?? {}).sort()).toEqual(Object.keys(r).sort());
  });

  it('a lookup body is a token of 1 to 12,000 characters, with since and until of up to 40', async () => {
    const w = world(undefined, {}, await fresh());
    const token = 'tok-abc';
    w.table.add(record(NOW - 3 * DAY, 'old', { token_fingerprint: fingerprintToken(token, KEY) }));
    const since = new Date(NOW - 4 * DAY).toISOString();
    expect(since).toHaveLength(24);
    expect(ids((await w.lookup({ token, since, until: '2d' })).body.items)).toEqual(['old']);
    expect((await w.lookup({ token: 'x'.repeat(12_000) })).status).toBe(200);
    for (const body of [{ token: '' }, { token: 'x'.repeat(12_001) }, { token, since: '1'.repeat(41) }, { token, until: '1'.repeat(41) }, { token, extra: 1 }]) {
      await expect(w.lookup(body)).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });
});
