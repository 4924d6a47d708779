import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { AuditUnavailableError, InvalidTokenError, UnknownTokenError } from '../../src/core/errors';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { listWorkspaces, revokeToken } from '../../src/core/vend';
import type { Decision, RequestContext, VendDeps } from '../../src/core/vend';
import { RESOURCE, TENANT, vendConfig } from '../support/vend-config';

// DELETE /api/token/{workspace}/{token_id} and GET /api/workspaces, called directly: what the
// decision (and so the audit row) says at each step, what reaches the upstreams, what is answered.

const NOW = 1_764_000_000_000;
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net', analytics: 'https://adb-5.6.azuredatabricks.net', zeta: 'https://adb-9.9.azuredatabricks.net' }, [
  { workspace: 'zeta', callers: { roles: ['Vend.Prod'] }, modes: ['aad'], maxLifetimeSeconds: 900 },
  { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['pat', 'aad'], maxLifetimeSeconds: 3600 },
  { workspace: 'analytics', callers: { roles: ['Vend.Prod'] }, modes: ['oauth', 'aad'], maxLifetimeSeconds: 900, scopes: ['sql', 'clusters:read'], defaultScopes: ['sql'], managementToken: true },
  { workspace: 'analytics', callers: { roles: ['Vend.Other'] }, modes: ['pat'], maxLifetimeSeconds: 900 },
]);
const alice: CallerIdentity = { tenantId: TENANT, objectId: 'oid-alice', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: 'alice-app' };

function world(over: Record<string, unknown> = {}) {
  const rows: AuditRecord[] = [];
  const calls: unknown[][] = [];
  const deps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: (auth: string | null) => {
      const known = { 'Bearer alice': alice, 'Bearer alice-elsewhere': { ...alice, tenantId: 'other-tenant' }, 'Bearer bob': { ...alice, objectId: 'oid-bob' } }[auth ?? ''];
      return known ? Promise.resolve(known) : Promise.reject(new InvalidTokenError('The token is malformed.'));
    },
    limiter: new RateLimiter(100, { now: () => NOW }),
    minter: { getToken: (sp: { name: string }, scope: string, min: number) => (calls.push(['getToken', sp.name, scope, min]), Promise.resolve({ token: 'sp-token', expiresOnMs: NOW + 3_600_000 })) },
    pats: { revoke: (ws: { name: string }, sp: string, id: string, mark: string) => (calls.push(['revoke', ws.name, sp, id, mark]), Promise.resolve()) },
    audit: { record: (r: AuditRecord) => (rows.push(r), Promise.resolve()) },
    clock: { now: () => NOW },
    ...over,
  } as unknown as VendDeps;
  const ctx: RequestContext = { requestId: 'req-r', authorization: 'Bearer alice', sourceIp: '10.0.0.1', userAgent: 'ua' };
  return { deps, ctx, rows, calls };
}

const refusal = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('revokeToken', () => {
  it('revokes with the SP\'s Databricks token and the caller mark, records `revoked`, answers 204 without a body type', async () => {
    const w = world();
    const decision: Decision = { startedAt: NOW - 5 };
    const res = await revokeToken(w.deps, w.ctx, { workspace: 'prod', tokenId: 'tid_1-A' }, decision);
    expect(w.calls).toEqual([
      ['getToken', 'etl-sp', config.databricksScope, 120],
      ['revoke', 'prod', 'sp-token', 'tid_1-A', `dbx-token-vending caller=${TENANT}/oid-alice `],
    ]);
    expect(res).toEqual({ status: 204, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'x-request-id': 'req-r' } });
    expect(res.body).toBeUndefined();
    expect(w.rows).toHaveLength(1);
    expect(w.rows[0]).toMatchObject({
      request_id: 'req-r', outcome: 'revoked', status: 204, code: 'revoked', token_id: 'tid_1-A', caller_oid: 'oid-alice', workspace: 'prod',
      service_principal: 'etl-sp', mode: 'pat', management_token: false, latency_ms: 5,
    });
  });

  it('fills the decision as each check passes, so a refusal row says what was known', async () => {
    const unknown = world({ pats: { revoke: () => Promise.reject(new UnknownTokenError({ detail: 'gone' })) } });
    const d1: Decision = { startedAt: NOW };
    expect(await refusal(revokeToken(unknown.deps, unknown.ctx, { workspace: 'prod', tokenId: 'tid' }, d1))).toBeInstanceOf(UnknownTokenError);
    expect(d1).toMatchObject({ caller: alice, mode: 'pat', managementToken: false, workspace: 'prod', servicePrincipal: 'etl-sp' });
    expect(unknown.rows).toEqual([]);

    const w = world();
    const d2: Decision = { startedAt: NOW };
    expect(await refusal(revokeToken(w.deps, w.ctx, { workspace: 'prod', tokenId: 'a b' }, d2))).toMatchObject({ code: 'invalid_request', detail: 'token_id is not a Databricks token id.' });
    expect(d2).toMatchObject({ caller: alice, mode: 'pat', workspace: 'prod' });
    expect(d2.servicePrincipal).toBeUndefined();

    const d3: Decision = { startedAt: NOW };
    expect(await refusal(revokeToken(w.deps, w.ctx, { workspace: 'bad name', tokenId: 'tid' }, d3))).toMatchObject({ code: 'invalid_request', detail: expect.stringMatching(/^workspace: must be/) as string });
    expect(d3.workspace).toBeUndefined();
    expect(d3.caller).toBe(alice);

    const d4: Decision = { startedAt: NOW };
    expect(await refusal(revokeToken(w.deps, { ...w.ctx, authorization: null }, { workspace: 'prod', tokenId: 'tid' }, d4))).toBeInstanceOf(InvalidTokenError);
    expect(d4).toEqual({ startedAt: NOW });
    expect(w.calls).toEqual([]);
  });

  it('takes a token id of 1 to 128 letters, digits, _ and -, anchored at both ends, before anything upstream', async () => {
    const w = world();
    for (const tokenId of ['', '!abc', 'abc!', 'a'.repeat(129), 'ab.c']) {
      expect(await refusal(revokeToken(w.deps, w.ctx, { workspace: 'prod', tokenId }, { startedAt: NOW })), tokenId).toMatchObject({ code: 'invalid_request', detail: 'token_id is not a Databricks token id.' });
    }
    expect(w.calls).toEqual([]);
    for (const tokenId of ['a', 'Z-9_z', 'a'.repeat(128)]) {
      expect((await revokeToken(w.deps, w.ctx, { workspace: 'prod', tokenId }, { startedAt: NOW })).status, tokenId).toBe(204);
    }
  });

  it('needs a pat grant on that workspace: 403 before any token is minted', async () => {
    const w = world();
    for (const workspace of ['zeta', 'analytics', 'nowhere']) {
      const d: Decision = { startedAt: NOW };
      expect(await refusal(revokeToken(w.deps, w.ctx, { workspace, tokenId: 'tid' }, d))).toMatchObject({ status: 403, code: 'not_granted' });
    }
    expect(w.calls).toEqual([]);
  });

  it('a revocation that cannot be recorded is 503 whose cause names the PAT (already revoked) by id', async () => {
    const w = world({ audit: { record: () => Promise.reject(new Error('table down')) } });
    const err = await refusal(revokeToken(w.deps, w.ctx, { workspace: 'prod', tokenId: 'tid-9' }, { startedAt: NOW }));
    expect(err).toBeInstanceOf(AuditUnavailableError);
    const cause = (err as AuditUnavailableError).cause as Error;
    expect(cause.message).toBe('PAT tid-9 in workspace "prod" was revoked, but the revocation could not be recorded');
    expect((cause.cause as Error).message).toBe('table down');
    expect(w.calls.map((c) => c[0])).toEqual(['getToken', 'revoke']);
  });
});

describe('listWorkspaces', () => {
  it('lists the caller\'s workspaces by name, with sorted modes, limits, and scopes only where the grant names them', async () => {
    const w = world();
    const res = await listWorkspaces(w.deps, w.ctx);
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({ 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Content-Type': 'application/json', 'x-request-id': 'req-r' });
    expect(res.body).toEqual([
      { name: 'analytics', host: 'https://adb-5.6.azuredatabricks.net', resource_id: RESOURCE.replace(/ws$/, 'analytics'), modes: ['aad', 'oauth'], max_lifetime_seconds: 900, management_token: true, scopes: ['clusters:read', 'sql'], default_scopes: ['sql'] },
      { name: 'prod', host: 'https://adb-1.2.azuredatabricks.net', resource_id: RESOURCE, modes: ['aad', 'pat'], max_lifetime_seconds: 3600, management_token: false },
      { name: 'zeta', host: 'https://adb-9.9.azuredatabricks.net', resource_id: RESOURCE.replace(/ws$/, 'zeta'), modes: ['aad'], max_lifetime_seconds: 900, management_token: false },
    ]);
  });

  it('leaves out a grant whose workspace is no longer configured (an API grant outliving its workspace)', async () => {
    const grants = compileGrants([...config.grants, { ...config.grants[0], workspace: 'gone' }], TENANT);
    const w = world({ grants });
    const names = ((await listWorkspaces(w.deps, w.ctx)).body as { name: string }[]).map((i) => i.name);
    expect(names).toEqual(['analytics', 'prod', 'zeta']);
  });

  it('is authenticated and rate limited like every route', async () => {
    const w = world({ limiter: new RateLimiter(1, { now: () => NOW }) });
    expect(await refusal(listWorkspaces(w.deps, { ...w.ctx, authorization: 'Bearer eve' }))).toBeInstanceOf(InvalidTokenError);
    await listWorkspaces(w.deps, w.ctx);
    expect(await refusal(listWorkspaces(w.deps, w.ctx))).toMatchObject({ status: 429, code: 'rate_limited' });
    // The limit is per caller (tenant and object id): others are not held back by alice.
    expect((await listWorkspaces(w.deps, { ...w.ctx, authorization: 'Bearer bob' })).status).toBe(200);
    expect((await listWorkspaces(w.deps, { ...w.ctx, authorization: 'Bearer alice-elsewhere' })).status).toBe(200);
  });
});
