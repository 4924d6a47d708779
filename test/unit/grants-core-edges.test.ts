import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { AuditUnavailableError, InvalidRequestError, NotGrantedError } from '../../src/core/errors';
import { jsonResponse, toProblemResponse } from '../../src/core/http';
import { GrantCache, runGrantAction, statusOf } from '../../src/core/grants';
import type { ApiGrant, GrantStore } from '../../src/core/grants';
import { withDeadline } from '../../src/core/grants/deadline';
import { authorize, compileGrants } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import type { VendDeps } from '../../src/core/vend';

// Edges of the grants core the handler tests do not pin: the cache's exact bounds, one read at a
// time, the store deadline, and what runGrantAction records, logs and reports for each ending.

const HOME = 'c0c0c0c0-0000-4000-8000-000000000001';
const APP_B = 'bbbbbbbb-0000-4000-8000-000000000002';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const teamB: CallerIdentity = { tenantId: HOME, objectId: 'oid-b', appId: APP_B, roles: [], kind: 'app', name: 'team b' };

function apiGrant(id: string, expiresAtMs: number, state: 'active' | 'revoked' = 'active'): ApiGrant {
  const actor = { tid: HOME, oid: 'o', appid: 'a', kind: 'user' as const };
  return { id, workspace: 'prod', callers: { roles: [], appIds: [APP_B], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 600, managementToken: false, expiresAt: new Date(expiresAtMs).toISOString(), reason: 'r', createdBy: actor, createdAt: new Date(T0).toISOString(), state };
}

function setup() {
  const store = {
    rows: [] as ApiGrant[],
    down: false,
    reads: 0,
    gate: undefined as Promise<void> | undefined,
    list: async () => {
      store.reads += 1;
      if (store.gate) await store.gate;
      if (store.down) throw new Error('down');
      return store.rows.map((item) => ({ item, etag: 'e' }));
    },
    get: () => Promise.resolve(undefined),
    insert: () => Promise.resolve(),
    replace: () => Promise.resolve(),
  };
  const clock = { t: T0, now: () => clock.t };
  const errors: unknown[] = [];
  const cache = new GrantCache({ store: store as unknown as GrantStore, configGrants: compileGrants([], HOME), homeTenantId: HOME, clock, refreshMs: 10_000, maxStaleMs: 60_000, onRefreshError: (e) => errors.push(e) });
  const admits = () => {
    try {
      authorize(cache.current(), teamB, { workspace: 'prod', mode: 'aad', managementToken: false });
      return true;
    } catch {
      return false;
    }
  };
  return { cache, store, clock, errors, admits };
}

describe('GrantCache bounds', () => {
  it('health is unknown before any read, failing when the first read fails, and the error is reported', async () => {
    const { cache, store, errors, admits } = setup();
    expect(cache.health()).toBe('unknown');
    store.down = true;
    await cache.refresh();
    expect(cache.health()).toBe('failing');
    expect(errors).toEqual([new Error('down')]);
    expect(admits()).toBe(false);
  });

  it('trusts the last good read up to exactly maxStaleMs, not a millisecond more', async () => {
    const { cache, store, clock, admits } = setup();
    store.rows = [apiGrant('g1', T0 + 3_600_000)];
    await cache.refresh();
    store.down = true;
    await cache.refresh();
    clock.t = T0 + 60_000;
    expect(cache.health()).toBe('stale');
    expect(admits()).toBe(true);
    clock.t = T0 + 60_001;
    expect(admits()).toBe(false);
    expect(cache.health()).toBe('failing');
  });

  it('compiles the grants once per change, not per request: the same set until the staleness bound', async () => {
    const { cache, store, clock } = setup();
    store.rows = [apiGrant('g1', T0 + 3_600_000)];
    await cache.refresh();
    clock.t = T0 + 1_000;
    const compiled = cache.current();
    expect(cache.current()).toBe(compiled);
    clock.t = T0 + 60_000;
    expect(cache.current()).toBe(compiled);
    clock.t = T0 + 60_001;
    expect(cache.current()).not.toBe(compiled);
  });

  it('each grant stops at its own expiry; the next one keeps admitting; a revoked row never admits', async () => {
    const { cache, store, clock } = setup();
    store.rows = [apiGrant('g1', T0 + 5_000), apiGrant('g2', T0 + 8_000), apiGrant('g3', T0 + 50_000, 'revoked')];
    await cache.refresh();
    const ids = () => {
      try {
        return authorize(cache.current(), teamB, { workspace: 'prod', mode: 'aad', managementToken: false }).grantIds;
      } catch {
        return [];
      }
    };
    expect(ids()).toEqual(['g1', 'g2']);
    clock.t = T0 + 5_000;
    expect(ids()).toEqual(['g2']);
    clock.t = T0 + 7_999;
    expect(ids()).toEqual(['g2']);
    clock.t = T0 + 8_000;
    expect(ids()).toEqual([]);
  });

  it('reads one at a time: concurrent refreshes share one read; a change starts a confirming read', async () => {
    const { cache, store } = setup();
    let open: () => void = () => undefined;
    store.gate = new Promise((r) => (open = r));
    const a = cache.refresh();
    const b = cache.refresh();
    expect(store.reads).toBe(1);
    open();
    await Promise.all([a, b]);
    store.gate = undefined;
    const before = store.reads;
    cache.applyLocal(apiGrant('g9', T0 + 60_000, 'revoked'));
    await cache.refresh();
    await new Promise((r) => setImmediate(r));
    expect(store.reads).toBeGreaterThan(before);
  });

  it('start reads at once (a refresh meanwhile joins that read)', async () => {
    const { cache, store, admits } = setup();
    store.rows = [apiGrant('g1', T0 + 60_000)];
    cache.start();
    cache.stop();
    expect(store.reads).toBe(1);
    await cache.refresh();
    expect(store.reads).toBe(1);
    expect(admits()).toBe(true);
  });
});

describe('statusOf', () => {
  it('expired at exactly the expiry, active a millisecond before; revoked whatever the time', () => {
    expect(statusOf(apiGrant('g', T0), T0 - 1)).toBe('active');
    expect(statusOf(apiGrant('g', T0), T0)).toBe('expired');
    expect(statusOf(apiGrant('g', T0 + 1000, 'revoked'), T0)).toBe('revoked');
  });
});

describe('withDeadline (grants store)', () => {
  it('passes a result through, and past the deadline rejects with DeadlineError and aborts the signal', async () => {
    expect(await withDeadline(5_000, () => Promise.resolve(7))).toBe(7);
    let seen: AbortSignal | undefined;
    const err = await withDeadline(20, (signal) => ((seen = signal), new Promise<never>(() => undefined))).catch((e: unknown) => e);
    expect((err as Error).name).toBe('DeadlineError');
    expect(seen?.aborted).toBe(true);
    await expect(withDeadline(5_000, () => Promise.reject(new Error('own')))).rejects.toThrow('own');
  });
});

describe('runGrantAction', () => {
  function deps(record: (r: AuditRecord) => Promise<void>) {
    const facts: Record<string, unknown>[] = [];
    const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const telemetry = { enabled: true, request: <T>(_r: string, _t: string | undefined, run: (finish: (f: Record<string, unknown>) => void) => Promise<T>) => run((f) => facts.push(f)) };
    const d = { clock: { now: () => T0 }, audit: { record }, config: { workspaces: new Map([['prod', {}]]) }, telemetry } as unknown as VendDeps;
    const logger = { info: (message: string, fields?: Record<string, unknown>) => logs.push({ level: 'info', message, fields }), warn: () => undefined, error: (message: string, fields?: Record<string, unknown>) => logs.push({ level: 'error', message, fields }) };
    return { d, facts, logs, logger };
  }
  const ctx = { requestId: 'rq-1', authorization: null, sourceIp: 'x'.repeat(80), userAgent: 'u'.repeat(300) };

  it('an ok action is logged with its status and reported as ok', async () => {
    const rows: AuditRecord[] = [];
    const { d, facts, logs, logger } = deps((r) => (rows.push(r), Promise.resolve()));
    const res = await runGrantAction(d, ctx, logger, 'grant_list', (a) => ((a.caller = teamB), (a.workspace = 'prod'), Promise.resolve(jsonResponse(200, [], 'rq-1'))));
    expect(res.status).toBe(200);
    expect(rows).toEqual([]);
    expect(logs).toEqual([{ level: 'info', message: 'grant_list: 200', fields: { request_id: 'rq-1', caller_tid: HOME, caller_oid: 'oid-b', caller_appid: APP_B, workspace: 'prod', grant_id: undefined } }]);
    expect(facts).toEqual([expect.objectContaining({ route: 'grant_list', status: 200, code: 'ok', outcome: 'ok', workspace: 'prod', callerAppId: APP_B })]);
  });

  it('a refusal is recorded as denied with its code, bounded client fields, and reported as denied', async () => {
    const rows: AuditRecord[] = [];
    const { d, facts, logs, logger } = deps((r) => (rows.push(r), Promise.resolve()));
    const res = await runGrantAction(d, ctx, logger, 'grant_revoke', (a) => {
      a.caller = teamB;
      a.workspace = 'elsewhere';
      a.grantId = 'g1';
      throw new NotGrantedError({ detail: 'no' });
    });
    expect(res.status).toBe(403);
    expect(rows).toEqual([expect.objectContaining({ outcome: 'denied', status: 403, code: 'not_granted', action: 'grant_revoke', grant_id: 'g1', workspace: 'elsewhere', caller_name: 'team b', latency_ms: 0, grant: undefined })]);
    expect(rows[0]?.source_ip).toHaveLength(64);
    expect(rows[0]?.user_agent).toHaveLength(256);
    expect(logs.map((l) => [l.level, l.message, l.fields?.code])).toEqual([['info', 'grant_revoke: 403', 'not_granted']]);
    expect(facts[0]).toMatchObject({ status: 403, code: 'not_granted', outcome: 'denied', workspace: '(unknown)' });
  });

  it('a refusal answered rather than thrown is reported by its status: from 400 denied, with its problem code or internal_error', async () => {
    const { d, facts, logger } = deps(() => Promise.resolve());
    const res = await runGrantAction(d, ctx, logger, 'grant_create', () => Promise.resolve(toProblemResponse(new InvalidRequestError({ detail: 'no' }), 'rq-1')));
    expect(res.status).toBe(400);
    await runGrantAction(d, ctx, logger, 'grant_create', () => Promise.resolve(jsonResponse(409, {}, 'rq-1')));
    expect(facts.map((f) => [f.status, f.outcome, f.code])).toEqual([[400, 'denied', 'invalid_request'], [409, 'denied', 'internal_error']]);
  });

  it('an answer without a body (a refusal or a 204) is reported by its status alone', async () => {
    const { d, facts, logger } = deps(() => Promise.resolve());
    expect((await runGrantAction(d, ctx, logger, 'grant_revoke', () => Promise.resolve({ status: 404, headers: {} }))).status).toBe(404);
    expect((await runGrantAction(d, ctx, logger, 'grant_revoke', () => Promise.resolve({ status: 204, headers: {} }))).status).toBe(204);
    expect(facts.map((f) => [f.status, f.outcome, f.code])).toEqual([[404, 'denied', 'internal_error'], [204, 'ok', 'ok']]);
  });

  it('a bug is a 500 recorded as failed and logged as an error; a refusal whose record fails is still answered', async () => {
    const rows: AuditRecord[] = [];
    const { d, facts, logs, logger } = deps((r) => (rows.push(r), Promise.resolve()));
    const res = await runGrantAction(d, ctx, logger, 'grant_create', () => Promise.reject(new TypeError('boom')));
    expect(res.status).toBe(500);
    expect(rows[0]).toMatchObject({ outcome: 'failed', status: 500, code: 'internal_error' });
    expect(logs[0]).toMatchObject({ level: 'error', message: 'grant_create: 500' });
    expect(facts[0]).toMatchObject({ outcome: 'failed', code: 'internal_error' });
    const down = deps(() => Promise.reject(new AuditUnavailableError(new Error('down'))));
    const refused = await runGrantAction(down.d, ctx, down.logger, 'grant_create', () => Promise.reject(new NotGrantedError({ detail: 'no' })));
    expect(refused.status).toBe(403);
    expect(down.logs[0]?.fields).toMatchObject({ audit: 'audit record of a refusal could not be written', status: 403 });
  });
});

describe('grant actions over time', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const ctx = { requestId: 'rq-2', authorization: null, sourceIp: undefined, userAgent: undefined };
  const logger = () => {
    const logs: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const push = (level: string) => (message: string, fields?: Record<string, unknown>) => logs.push({ level, message, fields });
    return { logs, info: push('info'), warn: push('warn'), error: push('error') };
  };

  it('records the latency and reports the duration of each action; a bug is logged with its description', async () => {
    let t = T0;
    const rows: AuditRecord[] = [];
    const facts: Record<string, unknown>[] = [];
    const telemetry = { enabled: true, request: <T>(_r: string, _t: string | undefined, run: (finish: (f: Record<string, unknown>) => void) => Promise<T>) => run((f) => facts.push(f)) };
    const d = { clock: { now: () => (t += 100) }, audit: { record: (r: AuditRecord) => (rows.push(r), Promise.resolve()) }, config: { workspaces: new Map() }, telemetry } as unknown as VendDeps;
    const log = logger();
    await runGrantAction(d, ctx, log, 'grant_create', () => Promise.reject(new TypeError('boom')));
    expect(rows[0]).toMatchObject({ latency_ms: 100, time: new Date(T0 + 200).toISOString() });
    expect(rows[0]).not.toHaveProperty('grant', expect.anything());
    expect(facts[0]).toMatchObject({ durationMs: 200 });
    expect(log.logs[0]?.fields).toMatchObject({ request_id: 'rq-2', status: 500, code: 'internal_error' });
    expect((log.logs[0]?.fields?.error as { name?: unknown } | undefined)?.name).toBe('TypeError');
  });

  it('reports nothing when telemetry is off', async () => {
    const finished: unknown[] = [];
    const telemetry = { enabled: false, request: <T>(_r: string, _t: string | undefined, run: (finish: (f: unknown) => void) => Promise<T>) => run((f) => finished.push(f)) };
    const d = { clock: { now: () => T0 }, audit: { record: () => Promise.resolve() }, config: { workspaces: new Map() }, telemetry } as unknown as VendDeps;
    const res = await runGrantAction(d, ctx, logger(), 'grant_list', () => Promise.resolve(jsonResponse(200, [], 'rq-2')));
    expect(res.status).toBe(200);
    expect(finished).toEqual([]);
  });

  it('the store deadline says so, and leaves no timer behind once the call is done', async () => {
    vi.useFakeTimers();
    expect(await withDeadline(5_000, () => Promise.resolve(1))).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    const late = withDeadline(1_000, () => new Promise<never>(() => undefined)).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(((await late) as Error).message).toBe('deadline passed');
  });
});
