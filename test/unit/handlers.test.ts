import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { loadConfig } from '../../src/core/config';
import { AuditUnavailableError, InvalidTokenError } from '../../src/core/errors';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { HealthTracker } from '../../src/core/vend';
import { FixedAuditKey } from '../../src/core/secrets';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
// A JWT-shaped token with a `uti`, as Entra ID would mint it (never verified here, only read for the audit).
const MINTED = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ uti: 'uti-123', exp: 2_000_000_000 })).toString('base64url')}.c2lnbmF0dXJlLXNlY3JldA`;

const config = loadConfig({
  VENDING_CONFIG: JSON.stringify({
    cloud: 'AzurePublic',
    tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv.vault.azure.net',
    servicePrincipals: { 'etl-sp': { clientId: SP, secret: 'etl-sp-secret' } },
    workspaces: { prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } },
    grants: [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['aad'], maxLifetimeSeconds: 3600 }],
  }),
  AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
  AUDIT_HMAC_KEY: Buffer.alloc(32, 3).toString('base64'),
});

const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-1', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined };

/** The real routes and core over fakes: a caller check, a minter, an audit sink that can fail. */
function world(overrides: Partial<VendDeps> = {}) {
  const rows: AuditRecord[] = [];
  const logs: string[] = [];
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants),
    verifyCaller: (auth) => (auth === 'Bearer good' ? Promise.resolve(caller) : Promise.reject(new InvalidTokenError('The token is malformed.'))),
    limiter: new RateLimiter(100, { now: () => 1_000 }),
    minter: { getToken: () => Promise.resolve({ token: MINTED, expiresOnMs: 2_000_000_000_000 }) },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey: new FixedAuditKey(Buffer.alloc(32, 3)),
    clock: { now: () => 1_764_000_000_000 },
    health: new HealthTracker(),
    pats: { create: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')) },
    version: 'test',
    ...overrides,
  };
  const routes = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const context = new InvocationContext({ functionName: 'token', logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')) });
  const post = async (body: unknown, headers: Record<string, string> = { authorization: 'Bearer good' }) => {
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { 'content-type': 'application/json', ...headers }, body: { string: JSON.stringify(body) } });
    const res = await (routes.token)(request, context);
    return { status: res.status, headers: new Headers(res.headers), body: JSON.parse(typeof res.body === "string" ? res.body : "{}") as Record<string, unknown> };
  };
  return { rows, logs, post };
}

describe('token handler (constructed HttpRequest, no host)', () => {
  it('records the issuance with the uti and a fingerprint, never the token', async () => {
    const { rows, logs, post } = world();
    const res = await post({ workspace: 'prod' });
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBe(MINTED);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'issued', token_id: 'uti-123', token_fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) as string });
    expect(JSON.stringify(rows) + logs.join('\n')).not.toContain(MINTED.split('.')[2]);
  });

  it('without the audit key, answers 503 audit_unavailable with Retry-After and mints nothing', async () => {
    let minted = 0;
    const auditKey = { current: () => Promise.reject(new AuditUnavailableError(new Error('no key'), 5)), problem: () => 'audit key: missing' };
    const { post } = world({ auditKey, minter: { getToken: () => (minted++, Promise.resolve({ token: MINTED, expiresOnMs: 2_000_000_000_000 })) } });
    const res = await post({ workspace: 'prod' });
    expect({ status: res.status, code: res.body.code, retryAfter: res.headers.get('retry-after') }).toEqual({ status: 503, code: 'audit_unavailable', retryAfter: '5' });
    expect(minted).toBe(0);
  });

  it('fails closed: an audit sink that cannot write means 503 and no token', async () => {
    const { post, logs } = world({ audit: { record: () => Promise.reject(new AuditUnavailableError(new Error('table down'))) } });
    const res = await post({ workspace: 'prod' });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(res.headers.get('retry-after')).toBe('5');
    expect(JSON.stringify(res.body)).not.toContain(MINTED.split('.')[1]);
    expect(logs.join('\n')).not.toContain(MINTED.split('.')[2]);
  });

  it('turns a bug into a generic 500 with no stack, and logs the cause without secrets', async () => {
    const bug = new TypeError('Cannot read properties of undefined (reading "x")');
    const { post, logs } = world({ minter: { getToken: () => Promise.reject(bug) } });
    const res = await post({ workspace: 'prod' });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'internal_error', detail: expect.stringContaining('request id') as string });
    expect(JSON.stringify(res.body)).not.toMatch(/TypeError|reading|\n\s+at /);
    expect(logs.join('\n')).toContain('TypeError');
  });

  it('records refusals with what was known', async () => {
    const { rows, post } = world();
    expect((await post({ workspace: 'prod' }, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post({ workspace: 'other' })).status).toBe(404);
    expect(rows.map((r) => [r.outcome, r.code, r.caller_oid, r.workspace])).toEqual([
      ['denied', 'invalid_token', undefined, undefined],
      ['denied', 'unknown_workspace', 'oid-1', 'other'],
    ]);
  });
});
