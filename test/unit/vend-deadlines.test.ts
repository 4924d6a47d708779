import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { deadlinesFor } from '../../src/core/deadline';
import type { CreatedPat } from '../../src/core/mint';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import { withDeadlines } from '../../src/core/vend/with-deadlines';
import { makeRoutes } from '../../src/functions/routes';
import { TENANT, vendConfig } from '../support/vend-config';

const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['pat', 'aad'], maxLifetimeSeconds: 3600 }]);
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-alice', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined };
const MINTED = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ uti: 'u', exp: 2_000_000_000 })).toString('base64url')}.sig`;
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
/** A budget of 2.4 s: every upstream deadline is a share of it (entra 1.2 s, audit 480 ms, signing keys 600 ms). */
const BUDGET_MS = 2_400;

/** The real routes and core under the service's own deadlines; the upstreams are fakes that can hang. */
function world(overrides: Partial<VendDeps>) {
  const rows: AuditRecord[] = [];
  const base: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: () => Promise.resolve(caller),
    limiter: new RateLimiter(100),
    minter: { getToken: () => Promise.resolve({ token: MINTED, expiresOnMs: Date.now() + 3_600_000 }) },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey: new FixedAuditKey(Buffer.alloc(32, 3)),
    clock: { now: () => Date.now() },
    health: new HealthTracker(),
    pats: { create: never, list: () => Promise.resolve([]), revoke: () => Promise.resolve() },
    oauth: { exchange: never },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
    ...overrides,
  };
  const deps = withDeadlines(base, deadlinesFor(BUDGET_MS));
  const handler = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler])).token;
  const context = new InvocationContext({ functionName: 'token', logHandler: () => undefined });
  const vend = async (mode: string) => {
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { authorization: 'Bearer x', 'content-type': 'application/json' }, body: { string: JSON.stringify({ workspace: 'prod', mode }) } });
    const started = Date.now();
    const res = await handler(request, context);
    const text = typeof res.body === 'string' ? res.body : '';
    return { status: res.status, headers: new Headers(res.headers), json: JSON.parse(text) as Record<string, unknown>, text, tookMs: Date.now() - started };
  };
  return { rows, vend };
}

describe('the service\'s own deadlines on the vend path', () => {
  it('a minter that never answers: 503 upstream_unavailable within the budget, Retry-After from the Entra ID deadline, refusal recorded', async () => {
    const { rows, vend } = world({ minter: { getToken: never } });
    const res = await vend('aad');
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('upstream_unavailable');
    expect(res.json.detail).toMatch(/^Key Vault or Entra ID did not answer within /);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.tookMs).toBeLessThan(BUDGET_MS);
    await vi.waitFor(() => expect(rows.map((r) => [r.outcome, r.code])).toEqual([['failed', 'upstream_unavailable']]), { timeout: 5_000 });
  });

  it('signing keys that never come: 503 with Retry-After from their deadline', async () => {
    const { vend } = world({ verifyCaller: never });
    const res = await vend('aad');
    expect(res.status).toBe(503);
    expect(res.json.detail).toBe('Entra ID (signing keys) did not answer within 600 ms; no token was issued.');
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('an audit write that never finishes: 503 audit_unavailable, and no token in the answer', async () => {
    const { vend } = world({ audit: { record: never } });
    const res = await vend('aad');
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('audit_unavailable');
    expect(res.text).not.toContain(MINTED.split('.')[1]);
  });

  it('a PAT that arrives after the caller was answered is revoked, by id and caller mark', async () => {
    let arrive: (p: CreatedPat) => void = () => undefined;
    let revoked: (v: [string, string]) => void = () => undefined;
    const revokedNow = new Promise<[string, string]>((r) => (revoked = r));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { vend } = world({
        pats: {
          create: () => new Promise<CreatedPat>((r) => (arrive = r)),
          list: () => Promise.resolve([]),
          revoke: (_ws, _sp, tokenId, mark) => (revoked([tokenId, mark]), Promise.resolve()),
        },
      });
      const res = await vend('pat');
      expect(res.status).toBe(503);
      expect(res.json.code).toBe('upstream_unavailable');
      expect(res.json.detail).toMatch(/^Databricks workspace "prod" did not answer within /);
      arrive({ token: 'dapi-late', tokenId: 'tid-late', expiresOnMs: Date.now() + 60_000 });
      expect(await revokedNow).toEqual(['tid-late', `dbx-token-vending caller=${TENANT}/oid-alice `]);
      await vi.waitFor(() => expect(warn).toHaveBeenCalledWith('dbx-token-vending: PAT tid-late in workspace "prod" was created but not issued; it was revoked'));
    } finally {
      warn.mockRestore();
    }
  });

  it('a PAT whose issuance cannot be recorded is revoked before the caller hears 503', async () => {
    const revokedIds: string[] = [];
    const { vend } = world({
      pats: {
        create: () => Promise.resolve({ token: 'dapi-made', tokenId: 'tid-made', expiresOnMs: Date.now() + 60_000 }),
        list: () => Promise.resolve([]),
        revoke: (_ws, _sp, tokenId) => (revokedIds.push(tokenId), Promise.resolve()),
      },
      audit: { record: (r) => (r.outcome === 'issued' ? Promise.reject(new Error('table down')) : Promise.resolve()) },
    });
    const res = await vend('pat');
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('audit_unavailable');
    expect(res.text).not.toContain('dapi-made');
    expect(revokedIds).toEqual(['tid-made']);
  });
});
