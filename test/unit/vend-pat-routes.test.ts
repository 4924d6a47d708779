import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import type { Workspace } from '../../src/core/config';
import { InvalidTokenError, UnknownTokenError } from '../../src/core/errors';
import { KeyedTokenCache } from '../../src/core/mint';
import type { ListedPat } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';
import { RESOURCE, TENANT, vendConfig } from '../support/vend-config';

const NOW = 1_764_000_000_000;
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net', analytics: 'https://adb-5.6.azuredatabricks.net', hidden: 'https://adb-7.8.azuredatabricks.net' }, [
  { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['pat', 'aad'], maxLifetimeSeconds: 3600, maxLivePats: 2 },
  { workspace: 'analytics', callers: { roles: ['Vend.Prod'] }, modes: ['aad'], maxLifetimeSeconds: 900 },
  { workspace: 'hidden', callers: { roles: ['Vend.Other'] }, modes: ['aad'], maxLifetimeSeconds: 900 },
]);

const callers: Record<string, CallerIdentity> = {
  'Bearer alice': { tenantId: TENANT, objectId: 'oid-alice', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined },
  'Bearer bob': { tenantId: TENANT, objectId: 'oid-bob', appId: 'app-2', roles: ['Vend.Prod'], kind: 'app', name: undefined },
};

/**
 * The real routes and core; the SP's Databricks token list is an in-memory store that keeps the
 * comment the service writes and deletes only what the service asks to (after its own check).
 */
function world() {
  const rows: AuditRecord[] = [];
  const store: (ListedPat & { token: string })[] = [];
  const spTokens: string[] = [];
  let next = 0;
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: (auth) => (auth && callers[auth] ? Promise.resolve(callers[auth]) : Promise.reject(new InvalidTokenError('The token is malformed.'))),
    limiter: new RateLimiter(100, { now: () => NOW }),
    minter: { getToken: () => Promise.resolve({ token: 'sp-entra-token', expiresOnMs: NOW + 3_600_000 }) },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey: new FixedAuditKey(Buffer.alloc(32, 3)),
    clock: { now: () => NOW },
    health: new HealthTracker(),
    pats: {
      create: (_ws: Workspace, spToken: string, lifetime: number, comment: string) => {
        spTokens.push(spToken);
        const pat = { tokenId: `tid-${++next}`, token: `dapi${String(next).padStart(32, '0')}`, comment, expiresOnMs: NOW + lifetime * 1000 };
        store.push(pat);
        return Promise.resolve(pat);
      },
      list: () => Promise.resolve(store.map(({ tokenId, comment, expiresOnMs }) => ({ tokenId, comment, expiresOnMs }))),
      revoke: (_ws: Workspace, _sp: string, tokenId: string, mark: string) => {
        const at = store.findIndex((p) => p.tokenId === tokenId && p.comment.startsWith(mark));
        if (at < 0) return Promise.reject(new UnknownTokenError({ detail: 'No token with this id was issued to this caller for this workspace, or it no longer exists.' }));
        store.splice(at, 1);
        return Promise.resolve();
      },
    },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
  };
  const routes = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const context = new InvocationContext({ functionName: 'token', logHandler: () => undefined });
  const send = async (route: string, init: { method: string; who: string; body?: unknown; params?: Record<string, string> }) => {
    const request = new HttpRequest({
      method: init.method, url: 'http://localhost/api/x', headers: { authorization: init.who, 'content-type': 'application/json' }, params: init.params ?? {},
      ...(init.body === undefined ? {} : { body: { string: JSON.stringify(init.body) } }),
    });
    const res = await routes[route](request, context);
    const text = typeof res.body === 'string' ? res.body : '';
    return { status: res.status, headers: new Headers(res.headers), text, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const vend = (who: string, lifetime = 600) => send('token', { method: 'POST', who, body: { workspace: 'prod', mode: 'pat', lifetime_seconds: lifetime } });
  const revoke = (who: string, tokenId: string, workspace = 'prod') => send('revokeToken', { method: 'DELETE', who, params: { workspace, token_id: tokenId } });
  return { rows, store, spTokens, send, vend, revoke };
}

describe('pat mode through the routes: the live-PAT cap and revocation', () => {
  it('vends PATs up to the cap, refuses the next with 429 and Retry-After, and has room again after a revoke', async () => {
    const w = world();
    const first = await w.vend('Bearer alice', 600);
    const second = await w.vend('Bearer alice', 900);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.json).toMatchObject({ token_id: 'tid-1', access_token: 'dapi00000000000000000000000000000001' });
    expect(w.spTokens).toEqual(['sp-entra-token', 'sp-entra-token']);
    expect(w.store.map((p) => p.comment)).toEqual([expect.stringMatching(/^dbx-token-vending caller=11111111-2222-3333-4444-555555555555\/oid-alice request=/), expect.stringMatching(/caller=.*\/oid-alice request=/)]);

    const full = await w.vend('Bearer alice');
    expect(full.status).toBe(429);
    expect(full.json.code).toBe('rate_limited');
    // The first PAT expires in 600 s: that is when there is room again.
    expect(full.headers.get('retry-after')).toBe('600');
    expect(w.store).toHaveLength(2);
    // Another caller's PATs count against their own cap only.
    expect((await w.vend('Bearer bob')).status).toBe(200);

    const revoked = await w.revoke('Bearer alice', 'tid-1');
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    expect(revoked.headers.get('content-type')).toBeNull();
    expect(w.store.map((p) => p.tokenId)).toEqual(['tid-2', 'tid-3']);
    expect((await w.vend('Bearer alice')).status).toBe(200);
  });

  it('revokes only the caller\'s own PATs: 404 for another caller\'s or an unknown id, one audit row per decision', async () => {
    const w = world();
    expect((await w.vend('Bearer bob')).status).toBe(200);
    w.rows.length = 0;
    const foreign = await w.revoke('Bearer alice', 'tid-1');
    expect(foreign.status).toBe(404);
    expect(foreign.json.code).toBe('unknown_token');
    expect(w.store.map((p) => p.tokenId)).toEqual(['tid-1']);
    const unknown = await w.revoke('Bearer alice', 'tid-99');
    expect(unknown.status).toBe(404);
    await vi.waitFor(() => expect(w.rows).toHaveLength(2));
    expect(w.rows.map((r) => [r.outcome, r.code, r.caller_oid, r.workspace])).toEqual([
      ['denied', 'unknown_token', 'oid-alice', 'prod'],
      ['denied', 'unknown_token', 'oid-alice', 'prod'],
    ]);
    const own = await w.revoke('Bearer bob', 'tid-1');
    expect(own.status).toBe(204);
    expect(w.rows).toHaveLength(3);
    expect(w.rows[2]).toMatchObject({ outcome: 'revoked', code: 'revoked', caller_oid: 'oid-bob', workspace: 'prod', token_id: 'tid-1', service_principal: 'etl-sp' });
    expect(w.store).toEqual([]);
  });

  it.each([['tid 1'], ['a'.repeat(129)], ['x/y'], ['']])('refuses token id %j with 400 and touches nothing', async (tokenId) => {
    const w = world();
    expect((await w.vend('Bearer alice')).status).toBe(200);
    const res = await w.revoke('Bearer alice', tokenId);
    expect(res.status).toBe(400);
    expect(res.json.code).toBe('invalid_request');
    expect(w.store).toHaveLength(1);
  });

  it('accepts a 128-character token id (the bound) and answers 404 when it is not the caller\'s', async () => {
    const res = await world().revoke('Bearer alice', 'A'.repeat(128));
    expect(res.status).toBe(404);
  });

  it('refuses revocation without a pat grant (403) and for an unknown caller (401)', async () => {
    const w = world();
    expect((await w.revoke('Bearer alice', 'tid-1', 'analytics')).status).toBe(403);
    expect((await w.revoke('Bearer alice', 'tid-1', 'nowhere')).status).toBe(403);
    expect((await w.revoke('Bearer mallory', 'tid-1')).status).toBe(401);
  });

  it('lists only the workspaces the caller may vend for, sorted, with their modes and limits', async () => {
    const w = world();
    const res = await w.send('workspaces', { method: 'GET', who: 'Bearer alice' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([
      { name: 'analytics', host: 'https://adb-5.6.azuredatabricks.net', resource_id: RESOURCE.replace(/ws$/, 'analytics'), modes: ['aad'], max_lifetime_seconds: 900, management_token: false },
      { name: 'prod', host: 'https://adb-1.2.azuredatabricks.net', resource_id: RESOURCE, modes: ['aad', 'pat'], max_lifetime_seconds: 3600, management_token: false },
    ]);
    expect((await w.send('workspaces', { method: 'GET', who: 'Bearer nobody' })).status).toBe(401);
  });
});
