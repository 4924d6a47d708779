import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { loadConfig } from '../../src/core/config';
import { AuditUnavailableError, ConflictError, InvalidTokenError } from '../../src/core/errors';
import type { CoreResponse, IncomingBody } from '../../src/core/http';
import { KeyedTokenCache } from '../../src/core/mint';
import { authorize, compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import {
  approveRequest, createGrant, createGrantAdmin, declineRequest, GrantCache, listGrants, listRequests, renewGrant, requestGrant, revokeGrant, runGrantAction,
} from '../../src/core/grants';
import type { GrantStore, StoredKind } from '../../src/core/grants';

// The grant routes' core, in process: real config, real cache and policy, an in-memory store
// with etags, an audit sink that records (or fails). Each test checks a promise users rely on.

const HOME = '11111111-2222-3333-4444-555555555555';
const FOREIGN = '99999999-2222-3333-4444-555555555555';
const OWNER_OID = 'aaaaaaaa-0000-4000-8000-000000000001';
const ADMIN_APP = 'aaaaaaaa-0000-4000-8000-000000000002';
const TEAM_APP = 'aaaaaaaa-0000-4000-8000-000000000003';
const SP = '22222222-3333-4444-5555-666666666666';
const RES = (n: string) => `/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/${n}`;
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;

function makeConfig(extra: Record<string, unknown> = {}) {
  return loadConfig({
    VENDING_CONFIG: JSON.stringify({
      cloud: 'AzurePublic',
      tenantId: HOME,
      callers: { audiences: ['api://dbx'], allowedTenants: [HOME, FOREIGN] },
      keyVaultUrl: 'https://kv.vault.azure.net',
      servicePrincipals: { sp: { clientId: SP, secret: 'sp-secret' } },
      workspaces: {
        prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RES('prod'), servicePrincipal: 'sp', owners: { objectIds: [OWNER_OID] } },
        dev: { host: 'https://adb-3.4.azuredatabricks.net', resourceId: RES('dev'), servicePrincipal: 'sp' },
      },
      grants: [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['aad'], maxLifetimeSeconds: 3600 }],
      admins: { appIds: [ADMIN_APP] },
      ...extra,
    }),
    AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
    AUDIT_HMAC_KEY: Buffer.alloc(32, 3).toString('base64'),
  });
}

const who = (name: string, over: Partial<CallerIdentity>): CallerIdentity => ({ tenantId: HOME, objectId: `${name}-oid`, appId: `${name}-app`, roles: [], kind: 'user', name: undefined, ...over });
const PEOPLE: Record<string, CallerIdentity> = {
  owner: who('owner', { objectId: OWNER_OID }),
  admin: who('admin', { appId: ADMIN_APP, kind: 'app' }),
  team: who('team', { appId: TEAM_APP, objectId: 'bbbbbbbb-0000-4000-8000-000000000003', kind: 'app' }),
  stranger: who('stranger', { objectId: 'cccccccc-0000-4000-8000-000000000004' }),
  foreigner: who('foreigner', { tenantId: FOREIGN, appId: 'dddddddd-0000-4000-8000-000000000005', kind: 'app' }),
  // Same object id as team, in another tenant: an object id names someone only within its tenant.
  twin: who('twin', { tenantId: FOREIGN, appId: 'eeeeeeee-0000-4000-8000-000000000006', objectId: 'bbbbbbbb-0000-4000-8000-000000000003', kind: 'app', name: 'twin app' }),
};

/** Rows by kind and id with an etag that changes on each write, like the table's; listed newest write first (the table promises no order). */
function memoryStore(): GrantStore & { rows: Map<string, { item: Record<string, unknown>; etag: string }>; writes: number } {
  const rows = new Map<string, { item: Record<string, unknown>; etag: string }>();
  let version = 0;
  const key = (kind: StoredKind, id: string) => `${kind}/${id}`;
  const store = {
    rows,
    writes: 0,
    list: (kind: StoredKind, schema: { parse(v: unknown): unknown }) => Promise.resolve([...rows].reverse().filter(([k]) => k.startsWith(`${kind}/`)).map(([, r]) => ({ item: schema.parse(r.item), etag: r.etag }))),
    get: (kind: StoredKind, id: string, schema: { parse(v: unknown): unknown }) => {
      const r = rows.get(key(kind, id));
      return Promise.resolve(r ? { item: schema.parse(r.item), etag: r.etag } : undefined);
    },
    insert: (kind: StoredKind, item: { id: string }) => {
      if (rows.has(key(kind, item.id))) return Promise.reject(new ConflictError({ detail: 'exists' }));
      store.writes += 1;
      rows.set(key(kind, item.id), { item: structuredClone(item), etag: `e${++version}` });
      return Promise.resolve();
    },
    replace: (kind: StoredKind, item: { id: string }, etag: string) => {
      if (rows.get(key(kind, item.id))?.etag !== etag) return Promise.reject(new ConflictError({ detail: 'changed' }));
      store.writes += 1;
      rows.set(key(kind, item.id), { item: structuredClone(item), etag: `e${++version}` });
      return Promise.resolve();
    },
  };
  return store as unknown as GrantStore & typeof store;
}

function world(extra: Record<string, unknown> = {}) {
  const config = makeConfig(extra);
  const audit: AuditRecord[] = [];
  const logs: string[] = [];
  const clock = { t: NOW, now: () => clock.t };
  let auditDown = false;
  let ids = 0;
  const store = memoryStore();
  const cache = new GrantCache({ store, configGrants: compileGrants(config.grants, config.tenantId), homeTenantId: config.tenantId, clock, refreshMs: 10_000, maxStaleMs: 300_000 });
  const admin = { ...createGrantAdmin(config, store, cache), newId: () => `id-${++ids}` };
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    grantAdmin: admin,
    verifyCaller: (auth) => {
      const p = PEOPLE[(auth ?? '').replace('Bearer ', '')];
      return p ? Promise.resolve(p) : Promise.reject(new InvalidTokenError('The token is malformed.'));
    },
    limiter: new RateLimiter(1000, clock),
    minter: { getToken: () => Promise.reject(new Error('unused')) },
    audit: { record: (r) => (auditDown ? Promise.reject(new AuditUnavailableError(new Error('table down'))) : (audit.push(r), Promise.resolve())) },
    auditKey: new FixedAuditKey(Buffer.alloc(32, 3)),
    clock,
    health: new HealthTracker(),
    pats: { create: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')), list: () => Promise.reject(new Error('unused')) },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
  };
  const logger = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const ctx = (as: string) => ({ requestId: `req-${as}`, authorization: `Bearer ${as}`, sourceIp: '10.0.0.1', userAgent: 'ua' });
  const json = (body: unknown): IncomingBody => ({ contentType: 'application/json', readBody: () => Promise.resolve(JSON.stringify(body)) });
  const none: IncomingBody = { contentType: null, readBody: () => Promise.resolve('') };
  const incomingOf = (body: unknown): IncomingBody => (body === undefined ? none : typeof (body as Partial<IncomingBody>).readBody === 'function' ? (body as IncomingBody) : json(body));
  const run = async (as: string, action: string, fn: (c: ReturnType<typeof ctx>, a: Parameters<Parameters<typeof runGrantAction>[4]>[0]) => Promise<CoreResponse>) => {
    const res = await runGrantAction(deps, ctx(as), logger, action, (a) => fn(ctx(as), a));
    return { status: res.status, body: res.body as Record<string, unknown> };
  };
  const api = {
    create: (as: string, body: unknown) => run(as, 'grant_create', (c, a) => createGrant(deps, admin, c, json(body), a)),
    list: (as: string, workspace: string | null = null, status: string | null = null) => run(as, 'grant_list', (c, a) => listGrants(deps, admin, c, { workspace, status }, a)),
    revoke: (as: string, id: string) => run(as, 'grant_revoke', (c, a) => revokeGrant(deps, admin, c, id, a)),
    renew: (as: string, id: string, body?: unknown) => run(as, 'grant_renew', (c, a) => renewGrant(deps, admin, c, id, incomingOf(body), a)),
    request: (as: string, body: unknown) => run(as, 'grant_request', (c, a) => requestGrant(deps, admin, c, json(body), a)),
    requests: (as: string, workspace: string | null = null, state: string | null = null) => run(as, 'grant_requests', (c, a) => listRequests(deps, admin, c, { workspace, state }, a)),
    approve: (as: string, id: string, body?: unknown) => run(as, 'grant_approve', (c, a) => approveRequest(deps, admin, c, id, incomingOf(body), a)),
    decline: (as: string, id: string, body?: unknown) => run(as, 'grant_decline', (c, a) => declineRequest(deps, admin, c, id, incomingOf(body), a)),
  };
  const admits = (p: CallerIdentity, workspace = 'prod', managementToken = false) => {
    try {
      authorize(cache.current(), p, { workspace, mode: 'aad', managementToken });
      return true;
    } catch {
      return false;
    }
  };
  return { api, audit, logs, store, clock, cache, admits, setAuditDown: (v: boolean) => (auditDown = v) };
}

const teamGrant = (over: Record<string, unknown> = {}) => ({ workspace: 'prod', callers: { appIds: [TEAM_APP] }, modes: ['aad'], maxLifetimeSeconds: 600, reason: 'team needs prod', ...over });

describe('grants: who may create, list, revoke and renew', () => {
  it('the service names each new grant and request with a random UUID of its own', () => {
    const config = makeConfig();
    const store = memoryStore();
    const cache = new GrantCache({ store, configGrants: compileGrants(config.grants, config.tenantId), homeTenantId: config.tenantId, clock: { now: () => NOW }, refreshMs: 10_000, maxStaleMs: 300_000 });
    const admin = createGrantAdmin(config, store, cache);
    const ids = [admin.newId(), admin.newId()];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[1]).not.toBe(ids[0]);
  });

  it('an owner creates a grant: 201, expiry 90 days by default, stored, audited first, admitted at once', async () => {
    const w = world();
    expect(w.admits(PEOPLE.team)).toBe(false);
    const res = await w.api.create('owner', teamGrant());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'id-1', workspace: 'prod', expiresAt: new Date(NOW + 90 * DAY).toISOString(), createdAt: new Date(NOW).toISOString(), state: 'active', status: 'active', source: 'api', readOnly: false, reason: 'team needs prod' });
    expect(res.body.createdBy).toEqual({ tid: HOME, oid: OWNER_OID, appid: 'owner-app', kind: 'user' });
    expect(w.store.rows.get('grant/id-1')?.item).toMatchObject({ id: 'id-1', state: 'active' });
    expect(w.audit).toHaveLength(1);
    expect(w.audit[0]).toMatchObject({ outcome: 'grant_created', status: 201, code: 'grant_created', workspace: 'prod', grant_id: 'id-1', action: 'grant_create', caller_oid: OWNER_OID, request_id: 'req-owner' });
    expect(JSON.parse(w.audit[0]?.grant as string)).toMatchObject({ id: 'id-1', callers: { appIds: [TEAM_APP] } });
    expect(w.admits(PEOPLE.team)).toBe(true);
    expect(w.admits(PEOPLE.team, 'dev')).toBe(false);
  });

  it('an admin may manage any workspace, even one without owners; others get 403 and nothing is stored', async () => {
    const w = world();
    expect((await w.api.create('admin', teamGrant({ workspace: 'dev' }))).status).toBe(201);
    for (const [as, ws] of [['owner', 'dev'], ['stranger', 'prod'], ['team', 'prod'], ['stranger', 'nope']] as const) {
      const res = await w.api.create(as, teamGrant({ workspace: ws }));
      expect({ as, status: res.status, code: res.body.code }).toEqual({ as, status: 403, code: 'not_granted' });
    }
    expect(w.store.writes).toBe(1);
    const denied = w.audit.filter((r) => r.outcome === 'denied');
    expect(denied.map((r) => [r.workspace, r.status, r.code])).toEqual([['dev', 403, 'not_granted'], ['prod', 403, 'not_granted'], ['prod', 403, 'not_granted'], ['nope', 403, 'not_granted']]);
  });

  it('an unauthenticated caller gets 401 and a denied row without caller fields', async () => {
    const w = world();
    const res = await w.api.create('nobody', teamGrant());
    expect(res.status).toBe(401);
    expect(w.audit).toEqual([expect.objectContaining({ outcome: 'denied', status: 401, caller_oid: undefined, action: 'grant_create' })]);
    expect(w.store.writes).toBe(0);
  });

  it('validates bodies: 400 invalid_request, nothing stored, nothing admitted', async () => {
    const w = world();
    const bad: [unknown, RegExp][] = [
      [teamGrant({ reason: '' }), /reason/],
      [teamGrant({ reason: 'x'.repeat(501) }), /reason/],
      [teamGrant({ reason: 'bidi\u202e' }), /printable/],
      [teamGrant({ expiresAt: 'tomorrow' }), /expiresAt/],
      [teamGrant({ expiresAt: new Date(NOW + 30_000).toISOString() }), /at least a minute/],
      [teamGrant({ expiresAt: new Date(NOW + 365 * DAY + 1000).toISOString() }), /at most 365 days/],
      [teamGrant({ tenants: ['77777777-2222-3333-4444-555555555555'] }), /not one of the tenants/],
      [teamGrant({ modes: ['user'] }), /onBehalfOf/],
      [teamGrant({ extra: 1 }), /extra|Unrecognized/],
    ];
    for (const [body, detail] of bad) {
      const res = await w.api.create('owner', body);
      expect({ status: res.status, code: res.body.code }, JSON.stringify(body)).toEqual({ status: 400, code: 'invalid_request' });
      expect(res.body.detail).toMatch(detail);
    }
    expect(w.store.writes).toBe(0);
    expect(w.admits(PEOPLE.team)).toBe(false);
  });

  it('accepts an expiry at exactly the bounds: one minute and the configured maximum', async () => {
    const w = world({ apiGrants: { defaultExpiryDays: 7, maxExpiryDays: 30 } });
    const min = await w.api.create('owner', teamGrant({ expiresAt: new Date(NOW + 60_000).toISOString() }));
    expect(min.status).toBe(201);
    expect(min.body.expiresAt).toBe(new Date(NOW + 60_000).toISOString());
    const max = await w.api.create('owner', teamGrant({ expiresAt: new Date(NOW + 30 * DAY).toISOString() }));
    expect(max.status).toBe(201);
    const over = await w.api.create('owner', teamGrant({ expiresAt: new Date(NOW + 30 * DAY + 1).toISOString() }));
    expect(over.body.detail).toBe('expiresAt: must be at most 30 days from now.');
    expect((await w.api.create('owner', teamGrant())).body.expiresAt).toBe(new Date(NOW + 7 * DAY).toISOString());
    expect((await w.api.create('owner', teamGrant({ tenants: [FOREIGN.toUpperCase()] }))).status).toBe(201);
  });

  it('fails closed: no audit record, no grant (503, nothing stored, nothing admitted)', async () => {
    const w = world();
    w.setAuditDown(true);
    const res = await w.api.create('owner', teamGrant());
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(w.store.writes).toBe(0);
    expect(w.admits(PEOPLE.team)).toBe(false);
    expect(w.logs.join('\n')).toMatch(/grant_create: 503/);
  });

  it('lists config grants read-only and API grants oldest first, per managed workspace, with a status filter', async () => {
    const w = world();
    await w.api.create('owner', teamGrant({ reason: 'first' }));
    w.clock.t += 1000;
    await w.api.create('owner', teamGrant({ reason: 'second', expiresAt: new Date(NOW + 2 * 60_000).toISOString() }));
    await w.api.create('admin', teamGrant({ workspace: 'dev', reason: 'dev one' }));
    const mine = await w.api.list('owner');
    expect(mine.status).toBe(200);
    expect((mine.body as unknown as Record<string, unknown>[]).map((g) => [g.id, g.source, g.readOnly, g.status])).toEqual([['config:0', 'config', true, 'active'], ['id-1', 'api', false, 'active'], ['id-2', 'api', false, 'active']]);
    expect(((await w.api.list('admin')).body as unknown as unknown[]).length).toBe(4);
    expect(((await w.api.list('admin', 'dev')).body as unknown as { id: string }[]).map((g) => g.id)).toEqual(['id-3']);
    expect((await w.api.list('stranger')).body).toEqual([]);
    expect((await w.api.list('stranger', 'prod')).status).toBe(403);
    w.clock.t = NOW + 3 * 60_000;
    expect(((await w.api.list('owner', 'prod', 'expired')).body as unknown as { id: string }[]).map((g) => g.id)).toEqual(['id-2']);
    expect(((await w.api.list('owner', 'prod', 'active')).body as unknown as { id: string }[]).map((g) => g.id)).toEqual(['config:0', 'id-1']);
    const bad = await w.api.list('owner', 'prod', 'gone');
    expect({ status: bad.status, detail: bad.body.detail }).toEqual({ status: 400, detail: 'status: must be active, expired or revoked.' });
  });

  it('revokes: a state, audited first, the row stays, listed as revoked, admits no more; twice is 409', async () => {
    const w = world();
    await w.api.create('owner', teamGrant());
    w.clock.t += 5000;
    const res = await w.api.revoke('admin', 'id-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'revoked', status: 'revoked', revokedAt: new Date(NOW + 5000).toISOString(), revokedBy: { appid: ADMIN_APP, kind: 'app' } });
    expect(w.audit.at(-1)).toMatchObject({ outcome: 'grant_revoked', status: 200, grant_id: 'id-1', workspace: 'prod' });
    expect(w.admits(PEOPLE.team)).toBe(false);
    expect(((await w.api.list('owner', 'prod', 'revoked')).body as unknown as { id: string }[]).map((g) => g.id)).toEqual(['id-1']);
    const again = await w.api.revoke('owner', 'id-1');
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 409, code: 'conflict' });
    expect((await w.api.renew('owner', 'id-1')).status).toBe(409);
  });

  it('revoke and renew refuse strangers (403), config grants (409), bad ids (400) and unknown ids (404)', async () => {
    const w = world();
    await w.api.create('owner', teamGrant());
    const writes = w.store.writes;
    const cases: [string, string, number, string][] = [
      ['stranger', 'id-1', 403, 'not_granted'],
      ['owner', 'config:0', 409, 'conflict'],
      ['owner', 'bad id!', 400, 'invalid_request'],
      ['owner', 'x'.repeat(65), 400, 'invalid_request'],
      ['owner', 'id-404', 404, 'not_found'],
    ];
    for (const [as, id, status, code] of cases) {
      for (const op of [w.api.revoke, w.api.renew]) {
        const res = await op(as, id);
        expect({ id, status: res.status, code: res.body.code }).toEqual({ id, status, code });
      }
    }
    expect(w.store.writes).toBe(writes);
    expect(w.admits(PEOPLE.team)).toBe(true);
    const denied = w.audit.filter((r) => r.status === 403);
    expect(denied.every((r) => r.grant_id === 'id-1' && r.workspace === 'prod')).toBe(true);
  });

  it('renews: default span from now, or the asked expiry within the maximum, with a new reason; an expired grant comes back', async () => {
    const w = world();
    await w.api.create('owner', teamGrant({ expiresAt: new Date(NOW + 2 * 60_000).toISOString() }));
    w.clock.t = NOW + 10 * 60_000;
    expect(w.admits(PEOPLE.team)).toBe(false);
    const res = await w.api.renew('owner', 'id-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ expiresAt: new Date(w.clock.t + 90 * DAY).toISOString(), reason: 'team needs prod', renewedAt: new Date(w.clock.t).toISOString(), status: 'active' });
    expect(w.audit.at(-1)).toMatchObject({ outcome: 'grant_renewed', status: 200 });
    expect(w.admits(PEOPLE.team)).toBe(true);
    const asked = await w.api.renew('admin', 'id-1', { expiresAt: new Date(w.clock.t + DAY).toISOString(), reason: 'one more day' });
    expect(asked.body).toMatchObject({ expiresAt: new Date(w.clock.t + DAY).toISOString(), reason: 'one more day', renewedBy: { appid: ADMIN_APP } });
    const tooFar = await w.api.renew('owner', 'id-1', { expiresAt: new Date(w.clock.t + 366 * DAY).toISOString() });
    expect(tooFar.status).toBe(400);
    const extra = await w.api.renew('owner', 'id-1', { state: 'active' });
    expect(extra.status).toBe(400);
    expect(w.store.rows.get('grant/id-1')?.item.reason).toBe('one more day');
  });

  it('a body that may be left out: none or blank is {}, but text without a JSON content type is 415', async () => {
    const w = world();
    await w.api.create('owner', teamGrant());
    const blank = await w.api.renew('owner', 'id-1', { contentType: null, readBody: () => Promise.resolve('  ') });
    expect(blank.status).toBe(200);
    const untyped = await w.api.renew('owner', 'id-1', { contentType: null, readBody: () => Promise.resolve('{"reason":"x"}') });
    expect({ status: untyped.status, code: untyped.body.code }).toEqual({ status: 415, code: 'unsupported_media_type' });
    const typedEmpty = await w.api.renew('owner', 'id-1', { contentType: 'application/json', readBody: () => Promise.resolve('') });
    expect(typedEmpty.status).toBe(400);
  });

  it('renew with the audit down changes nothing', async () => {
    const w = world();
    await w.api.create('owner', teamGrant({ expiresAt: new Date(NOW + 2 * 60_000).toISOString() }));
    w.setAuditDown(true);
    expect((await w.api.renew('owner', 'id-1')).status).toBe(503);
    expect((await w.api.revoke('owner', 'id-1')).status).toBe(503);
    expect(w.store.rows.get('grant/id-1')?.item).toMatchObject({ state: 'active', expiresAt: new Date(NOW + 2 * 60_000).toISOString() });
    expect(w.admits(PEOPLE.team)).toBe(true);
  });
});

describe('grant requests: request, approve (never wider), decline', () => {
  it('a caller asks with defaults: itself, aad, an hour, no management token; pending; audited; not yet admitted', async () => {
    const w = world();
    const res = await w.api.request('team', { workspace: 'prod', reason: 'please' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'id-1', state: 'pending', callers: { roles: [], appIds: [TEAM_APP], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false, createdAt: new Date(NOW).toISOString() });
    expect(res.body.tenants).toBeUndefined();
    expect(res.body.expiresAt).toBeUndefined();
    expect(w.audit.at(-1)).toMatchObject({ outcome: 'grant_requested', status: 201, grant_id: 'id-1', workspace: 'prod' });
    expect(w.admits(PEOPLE.team)).toBe(false);
    const user = await w.api.request('stranger', { workspace: 'prod', reason: 'me too', expiresAt: new Date(NOW + DAY).toISOString() });
    expect(user.body).toMatchObject({ callers: { appIds: [], objectIds: [PEOPLE.stranger?.objectId] }, expiresAt: new Date(NOW + DAY).toISOString() });
    const foreign = await w.api.request('foreigner', { workspace: 'prod', reason: 'from afar' });
    expect(foreign.body.tenants).toEqual([FOREIGN]);
    const named = await w.api.request('foreigner', { workspace: 'prod', reason: 'named', callers: { appIds: [TEAM_APP] } });
    expect(named.body.tenants).toBeUndefined();
  });

  it('refuses unknown workspaces (403 as if not granted), bad bodies (400), audit down (503): nothing stored', async () => {
    const w = world();
    const unknown = await w.api.request('team', { workspace: 'nope', reason: 'x' });
    expect({ status: unknown.status, code: unknown.body.code }).toEqual({ status: 403, code: 'not_granted' });
    expect((await w.api.request('team', { workspace: 'prod' })).status).toBe(400);
    expect((await w.api.request('team', { workspace: 'prod', reason: 'x', modes: ['user'] })).status).toBe(400);
    expect((await w.api.request('team', { workspace: 'prod', reason: 'x', expiresAt: new Date(NOW + 400 * DAY).toISOString() })).status).toBe(400);
    w.setAuditDown(true);
    expect((await w.api.request('team', { workspace: 'prod', reason: 'x' })).status).toBe(503);
    expect(w.store.writes).toBe(0);
  });

  it('lists: the caller its own; owners the workspace (pending by default, or a state); strangers 403', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'a' });
    w.clock.t += 1000;
    await w.api.request('stranger', { workspace: 'prod', reason: 'b' });
    await w.api.request('team', { workspace: 'dev', reason: 'c' });
    await w.api.decline('owner', 'id-2');
    const ids = (r: { body: unknown }) => (r.body as { id: string }[]).map((x) => x.id);
    expect(ids(await w.api.requests('team'))).toEqual(['id-1', 'id-3']);
    expect(ids(await w.api.requests('stranger', null, 'declined'))).toEqual(['id-2']);
    expect(ids(await w.api.requests('stranger', null, 'pending'))).toEqual([]);
    expect(ids(await w.api.requests('stranger', null, 'all'))).toEqual(['id-2']);
    expect(ids(await w.api.requests('owner', 'prod'))).toEqual(['id-1']);
    expect(ids(await w.api.requests('owner', 'prod', 'all'))).toEqual(['id-1', 'id-2']);
    expect(ids(await w.api.requests('owner', 'prod', 'declined'))).toEqual(['id-2']);
    const pending = await w.api.requests('owner', 'prod', 'pending');
    expect({ status: pending.status, ids: ids(pending) }).toEqual({ status: 200, ids: ['id-1'] });
    expect((await w.api.requests('stranger', 'prod')).status).toBe(403);
    const bad = await w.api.requests('owner', 'prod', 'done');
    expect({ status: bad.status, detail: bad.body.detail }).toEqual({ status: 400, detail: 'state: must be pending, approved, declined or all.' });
  });

  it('an owner approves: the request is decided, a grant made from it, audited with both, admitted', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'please', maxLifetimeSeconds: 1800, managementToken: true, expiresAt: new Date(NOW + 10 * DAY).toISOString() });
    w.clock.t += 60_000;
    const res = await w.api.approve('owner', 'id-1', { maxLifetimeSeconds: 900, managementToken: false, note: 'ok, less' });
    expect(res.status).toBe(201);
    expect(res.body.request).toMatchObject({ id: 'id-1', state: 'approved', grantId: 'id-2', decisionNote: 'ok, less', decidedAt: new Date(w.clock.t).toISOString(), decidedBy: { oid: OWNER_OID } });
    expect(res.body.grant).toMatchObject({ id: 'id-2', fromRequest: 'id-1', maxLifetimeSeconds: 900, managementToken: false, expiresAt: new Date(NOW + 10 * DAY).toISOString(), reason: 'please', status: 'active', state: 'active' });
    const approved = await w.api.requests('owner', 'prod', 'approved');
    expect({ status: approved.status, ids: (approved.body as unknown as { id: string }[]).map((x) => x.id) }).toEqual({ status: 200, ids: ['id-1'] });
    const row = w.audit.at(-1);
    expect(row).toMatchObject({ outcome: 'grant_approved', status: 201, grant_id: 'id-1' });
    expect(JSON.parse(row?.grant as string)).toMatchObject({ request: 'id-1', requestedBy: { appid: TEAM_APP }, grant: { id: 'id-2' } });
    expect(w.admits(PEOPLE.team)).toBe(true);
    expect(w.admits(PEOPLE.team, 'prod', true)).toBe(false);
    const twice = await w.api.approve('admin', 'id-1');
    expect({ status: twice.status, detail: twice.body.detail }).toEqual({ status: 409, detail: 'This request is already approved.' });
  });

  it('an approval may narrow the modes to a subset of those asked', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'both', modes: ['aad', 'pat'] });
    const res = await w.api.approve('owner', 'id-1', { modes: ['pat'] });
    expect(res.status).toBe(201);
    expect(res.body.grant).toMatchObject({ modes: ['pat'], maxLifetimeSeconds: 3600, managementToken: false });
    expect(w.admits(PEOPLE.team)).toBe(false);
  });

  it('an approval may only narrow: wider modes, lifetime, management token or expiry are 400 and change nothing', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'please', maxLifetimeSeconds: 1800, expiresAt: new Date(NOW + 10 * DAY).toISOString() });
    const wider: [unknown, string][] = [
      [{ modes: ['aad', 'pat'] }, 'modes'],
      [{ maxLifetimeSeconds: 1801 }, 'maxLifetimeSeconds'],
      [{ managementToken: true }, 'managementToken'],
      [{ expiresAt: new Date(NOW + 10 * DAY + 1000).toISOString() }, 'expiresAt'],
    ];
    for (const [body, field] of wider) {
      const res = await w.api.approve('owner', 'id-1', body);
      expect({ status: res.status, detail: res.body.detail }).toEqual({ status: 400, detail: `An approval may only narrow the request; wider than asked: ${field}.` });
    }
    const same = await w.api.approve('owner', 'id-1', { maxLifetimeSeconds: 1800, expiresAt: new Date(NOW + 10 * DAY).toISOString() });
    expect(same.status).toBe(201);
    expect(w.store.writes).toBe(3);
  });

  it('approving without a body gives the default expiry when none was asked; strangers and the requester are refused', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'please' });
    expect((await w.api.approve('team', 'id-1')).status).toBe(403);
    expect((await w.api.approve('stranger', 'id-1')).status).toBe(403);
    expect((await w.api.approve('owner', 'bad id!')).status).toBe(400);
    expect((await w.api.approve('owner', 'id-9')).status).toBe(404);
    w.setAuditDown(true);
    expect((await w.api.approve('owner', 'id-1')).status).toBe(503);
    expect(w.admits(PEOPLE.team)).toBe(false);
    w.setAuditDown(false);
    const res = await w.api.approve('owner', 'id-1');
    expect(res.body.grant).toMatchObject({ expiresAt: new Date(NOW + 90 * DAY).toISOString(), modes: ['aad'], maxLifetimeSeconds: 3600 });
  });

  it('declines with a note; a declined request cannot be approved; decline with audit down changes nothing', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'please' });
    await w.api.request('team', { workspace: 'prod', reason: 'again' });
    w.setAuditDown(true);
    expect((await w.api.decline('owner', 'id-2')).status).toBe(503);
    expect(w.store.rows.get('request/id-2')?.item.state).toBe('pending');
    w.setAuditDown(false);
    expect((await w.api.decline('stranger', 'id-1')).status).toBe(403);
    expect((await w.api.decline('owner', 'id-1', { note: 'bad\u0000' })).status).toBe(400);
    const res = await w.api.decline('owner', 'id-1', { note: 'no' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'declined', decisionNote: 'no', decidedBy: { oid: OWNER_OID } });
    expect(w.audit.at(-1)).toMatchObject({ outcome: 'grant_declined', status: 200, grant_id: 'id-1' });
    const late = await w.api.approve('owner', 'id-1');
    expect({ status: late.status, detail: late.body.detail }).toEqual({ status: 409, detail: 'This request is already declined.' });
    expect(w.admits(PEOPLE.team)).toBe(false);
  });
});

describe('grants: the words of each refusal by id', () => {
  it('names why: already revoked, revoked stays revoked, config grants read-only, ids not ours, unknown ids', async () => {
    const w = world();
    await w.api.create('owner', teamGrant());
    await w.api.create('owner', teamGrant());
    await w.api.revoke('owner', 'id-2');
    const cases: [() => ReturnType<typeof w.api.revoke>, number, string][] = [
      [() => w.api.revoke('owner', 'id-2'), 409, 'This grant is already revoked.'],
      [() => w.api.renew('owner', 'id-2'), 409, 'A revoked grant stays revoked; create a new one.'],
      [() => w.api.revoke('owner', 'config:12'), 409, 'Grants of the config document are read-only here; change the document instead.'],
      [() => w.api.renew('owner', 'config:0'), 409, 'Grants of the config document are read-only here; change the document instead.'],
      [() => w.api.revoke('owner', 'config:1x'), 400, 'The grant id is not one this service makes.'],
      [() => w.api.revoke('owner', 'xconfig:1'), 400, 'The grant id is not one this service makes.'],
      [() => w.api.revoke('owner', 'config:'), 400, 'The grant id is not one this service makes.'],
      [() => w.api.revoke('owner', 'id-404'), 404, 'No grant with this id.'],
      [() => w.api.revoke('owner', 'x'.repeat(64)), 404, 'No grant with this id.'],
      [() => w.api.revoke('owner', '!id-1'), 400, 'The grant id is not one this service makes.'],
      [() => w.api.renew('owner', 'id-1!'), 400, 'The grant id is not one this service makes.'],
      [() => w.api.approve('owner', 'id-1!'), 400, 'The request id is not one this service makes.'],
      [() => w.api.decline('owner', '!id-1'), 400, 'The request id is not one this service makes.'],
      [() => w.api.approve('owner', 'id-404'), 404, 'No grant request with this id.'],
    ];
    for (const [op, status, detail] of cases) {
      const res = await op();
      expect({ status: res.status, detail: res.body.detail }).toEqual({ status, detail });
    }
    expect(w.store.rows.get('grant/id-1')?.item.state).toBe('active');
  });

  it('a caller who manages no workspace gets an empty list without a read of the table', async () => {
    const w = world();
    await w.api.create('owner', teamGrant());
    const reads = vi.spyOn(w.store, 'list');
    expect((await w.api.list('stranger')).body).toEqual([]);
    expect(reads).not.toHaveBeenCalled();
    expect(((await w.api.list('owner')).body as unknown as unknown[]).length).toBe(2);
    expect(reads).toHaveBeenCalledTimes(1);
  });
});

describe('grants: identities, narrowing words and tenants', () => {
  it('a caller sees only its own requests: the same object id in another tenant is someone else; names are kept', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'a' });
    const twin = await w.api.request('twin', { workspace: 'prod', reason: 'b', tenants: [HOME] });
    expect(twin.body).toMatchObject({ tenants: [HOME], createdBy: { tid: FOREIGN, name: 'twin app', kind: 'app' } });
    expect((await w.api.requests('twin')).body).toEqual([expect.objectContaining({ id: 'id-2' })]);
    expect((await w.api.requests('team')).body).toEqual([expect.objectContaining({ id: 'id-1' })]);
    const user = await w.api.request('stranger', { workspace: 'prod', reason: 'c' });
    expect(user.body.callers).toEqual({ roles: [], appIds: [], objectIds: [PEOPLE.stranger?.objectId] });
    const unknown = await w.api.request('team', { workspace: 'nope', reason: 'x' });
    expect(unknown.body.detail).toBe('Not granted, or no such workspace: "nope".');
  });

  it('the approved grant is shown as an API grant; every wider field is named', async () => {
    const w = world();
    await w.api.request('team', { workspace: 'prod', reason: 'please', maxLifetimeSeconds: 600 });
    const wide = await w.api.approve('owner', 'id-1', { modes: ['pat'], maxLifetimeSeconds: 601, managementToken: true });
    expect(wide.body.detail).toBe('An approval may only narrow the request; wider than asked: modes, maxLifetimeSeconds, managementToken.');
    const res = await w.api.approve('owner', 'id-1');
    expect(res.body.grant).toMatchObject({ source: 'api', readOnly: false, status: 'active' });
    expect(res.body.grant).not.toHaveProperty('tenants', expect.anything());
    const refused = await w.api.create('owner', teamGrant({ workspace: 'dev' }));
    expect(refused.body.detail).toBe('Only the owners of "dev" (or the platform admins) may manage its grants.');
  });

  it('tenants are compared without regard to case', async () => {
    const LETTERS = 'abcdef00-2222-3333-4444-555555555555';
    const w = world({ callers: { audiences: ['api://dbx'], allowedTenants: [HOME, LETTERS] } });
    const res = await w.api.create('owner', teamGrant({ tenants: [LETTERS.toUpperCase()] }));
    expect(res.status).toBe(201);
  });
});
