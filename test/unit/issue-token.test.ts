import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { loadConfig } from '../../src/core/config';
import type { ServicePrincipal, Workspace } from '../../src/core/config';
import { InvalidTokenError, UpstreamUnavailableError } from '../../src/core/errors';
import type { Logger } from '../../src/core/http';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import type { CallerIdentity } from '../../src/core/policy';
import { HealthTracker, issueToken, revokeToken, runDecision } from '../../src/core/vend';
import type { RequestContext, VendDeps } from '../../src/core/vend';

// The vend protocol through its public entries (runDecision + issueToken/revokeToken) over fakes:
// each field of the answer and of the audit record, each refusal, in the documented order.
const TENANT = '11111111-2222-3333-4444-555555555555';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const HMAC = Buffer.alloc(32, 9);
const NOW = 1_764_000_000_000;
const jwt = (claims: Record<string, unknown>): string => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const MAIN = jwt({ uti: 'uti-main', exp: 1_764_003_600 });
const MGMT = jwt({ uti: 'uti-mgmt' });

const config = loadConfig({
  VENDING_CONFIG: JSON.stringify({
    cloud: 'AzurePublic', tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv.vault.azure.net',
    servicePrincipals: { 'etl-sp': { clientId: '22222222-3333-4444-5555-666666666666', secret: 'etl-sp-secret' } },
    workspaces: { prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } },
    grants: [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['aad', 'pat'], maxLifetimeSeconds: 1800, managementToken: true }],
  }),
  AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
  AUDIT_HMAC_KEY: HMAC.toString('base64'),
});
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-1', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: 'caller-app' };

function world(overrides: Partial<VendDeps> = {}) {
  let now = NOW;
  const rows: AuditRecord[] = [];
  const mints: { sp: string; scope: string; minValidity: number }[] = [];
  const pats: { lifetime: number; comment: string; spToken: string }[] = [];
  const revokes: { tokenId: string; mark: string }[] = [];
  const logs: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
  const limiterKeys: string[] = [];
  const limiter = new RateLimiter(100, { now: () => now });
  const deps: VendDeps = {
    config, grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: (auth) => (auth === 'Bearer good' ? Promise.resolve(caller) : Promise.reject(new InvalidTokenError('The token is malformed.'))),
    limiter: Object.assign(Object.create(limiter) as RateLimiter, { take: (k: string) => (limiterKeys.push(k), limiter.take(k)) }),
    minter: {
      getToken: (sp: ServicePrincipal, scope: string, minValidity: number) => {
        mints.push({ sp: sp.name, scope, minValidity });
        now += 25; // the mint takes 25 ms on this clock
        return Promise.resolve({ token: scope === config.managementScope ? MGMT : MAIN, expiresOnMs: 1_764_003_600_000 });
      },
    },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey: new FixedAuditKey(HMAC),
    clock: { now: () => now },
    health: new HealthTracker(),
    pats: {
      create: (_ws: Workspace, spToken, lifetime, comment) => (pats.push({ lifetime, comment, spToken }), Promise.resolve({ token: `dapi${'a'.repeat(32)}`, tokenId: 'tok-1', expiresOnMs: NOW + lifetime * 1000 })),
      revoke: (_ws, _spToken, tokenId, mark) => (revokes.push({ tokenId, mark }), Promise.resolve()),
      list: () => Promise.resolve([]),
    },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 't',
    ...overrides,
  };
  const log = (level: string): Logger[keyof Logger] => (message, fields) => void logs.push({ level, message, fields });
  const logger: Logger = { info: log('info'), warn: log('warn'), error: log('error') };
  const ctx = (extra: Partial<RequestContext> = {}): RequestContext => ({ requestId: 'req-1', authorization: 'Bearer good', sourceIp: '203.0.113.9', userAgent: 'ua/1', ...extra });
  const vend = (body: unknown, extra: Partial<RequestContext> = {}) => {
    const c = ctx(extra);
    return runDecision(deps, c, logger, 'token', (d) => issueToken(deps, c, { contentType: 'application/json', readBody: () => Promise.resolve(JSON.stringify(body)) }, d));
  };
  const revoke = (tokenId: string, extra: Partial<RequestContext> = {}) => {
    const c = ctx(extra);
    return runDecision(deps, c, logger, 'revoke', (d) => revokeToken(deps, c, { workspace: 'prod', tokenId }, d));
  };
  return { rows, mints, pats, revokes, logs, limiterKeys, vend, revoke };
}

/** The body as the caller reads it: its JSON, parsed (a token in it may be pre-escaped JSON text). */
const bodyOf = (res: { body?: unknown }): Record<string, unknown> => JSON.parse(JSON.stringify(res.body)) as Record<string, unknown>;

describe('issueToken (aad)', () => {
  it('answers exactly the documented body and records exactly the documented row', async () => {
    const w = world();
    const res = await w.vend({ workspace: 'prod', min_validity_seconds: 600, purpose: 'etl' });
    expect(res.status).toBe(200);
    expect(bodyOf(res)).toEqual({
      access_token: MAIN, token_type: 'Bearer', expires_on: 1_764_003_600, expires_in: 3600 - 0, mode: 'aad',
      workspace: { name: 'prod', host: 'https://adb-1.2.azuredatabricks.net', resource_id: RESOURCE },
      service_principal: { name: 'etl-sp', client_id: '22222222-3333-4444-5555-666666666666' },
      headers: { Authorization: `Bearer ${MAIN}`, 'X-Databricks-Azure-Workspace-Resource-Id': RESOURCE },
      request_id: 'req-1',
    });
    expect(w.mints).toEqual([{ sp: 'etl-sp', scope: '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default', minValidity: 600 }]);
    expect(w.limiterKeys).toEqual([`${TENANT}/oid-1`]);
    expect(w.rows).toEqual([{
      request_id: 'req-1', time: new Date(NOW + 25).toISOString(), outcome: 'issued', status: 200, code: 'issued',
      caller_tid: TENANT, caller_oid: 'oid-1', caller_appid: 'app-1', caller_kind: 'app', caller_name: 'caller-app',
      workspace: 'prod', service_principal: 'etl-sp', mode: 'aad', management_token: false, token_id: 'uti-main',
      token_fingerprint: createHmac('sha256', HMAC).update(MAIN).digest('hex').slice(0, 16), expires_on: 1_764_003_600,
      purpose: 'etl', source_ip: '203.0.113.9', user_agent: 'ua/1', latency_ms: 25, grant_id: 'config:0',
    }]);
    expect(w.logs).toEqual([{ level: 'info', message: 'token: 200', fields: { request_id: 'req-1', caller_tid: TENANT, caller_oid: 'oid-1', caller_appid: 'app-1', workspace: 'prod', mode: 'aad', latency_ms: 25 } }]);
  });

  it('adds the management token when asked, minted with the management scope', async () => {
    const w = world();
    const res = await w.vend({ workspace: 'prod', management_token: true });
    expect((bodyOf(res).headers as Record<string, string>)['X-Databricks-Azure-SP-Management-Token']).toBe(MGMT);
    expect(w.mints.map((m) => m.scope)).toEqual(['2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default', 'https://management.core.windows.net//.default']);
    expect(w.mints.map((m) => m.minValidity)).toEqual([300, 300]);
    expect(w.rows[0]).toMatchObject({ management_token: true, token_id: 'uti-main' });
  });

  it('refuses lifetime_seconds in aad mode, recorded as denied with what was known', async () => {
    const w = world();
    const res = await w.vend({ workspace: 'prod', lifetime_seconds: 600 });
    expect(res.status).toBe(400);
    expect(bodyOf(res)).toMatchObject({ code: 'invalid_request', detail: 'lifetime_seconds applies to mode "pat" only.' });
    expect(w.mints).toEqual([]);
    expect(w.rows[0]).toMatchObject({ outcome: 'denied', status: 400, code: 'invalid_request', workspace: 'prod', service_principal: 'etl-sp', mode: 'aad' });
    expect(w.rows[0]?.token_id).toBeUndefined();
  });

  it('takes jti when there is no uti, and no id from a token that is not a JWT; expires_in never negative', async () => {
    for (const [token, id] of [[jwt({ jti: 'jti-1' }), 'jti-1'], [jwt({ uti: 7 }), undefined], ['opaque-token', undefined]] as const) {
      const w = world({ minter: { getToken: () => Promise.resolve({ token, expiresOnMs: NOW - 10_000 }) } });
      const res = await w.vend({ workspace: 'prod' });
      expect(res.status).toBe(200);
      expect(w.rows[0]?.token_id).toBe(id);
      expect(bodyOf(res).expires_in).toBe(0);
    }
  });

  it('truncates the source address and user agent it records', async () => {
    const w = world();
    await w.vend({ workspace: 'prod' }, { sourceIp: '1'.repeat(100), userAgent: 'u'.repeat(300) });
    expect(w.rows[0]?.source_ip).toBe('1'.repeat(64));
    expect(w.rows[0]?.user_agent).toBe('u'.repeat(256));
  });

  it('a failure is recorded as failed and logged as an error, with the sanitized cause', async () => {
    const w = world({ minter: { getToken: () => Promise.reject(new UpstreamUnavailableError('Entra ID could not be reached.')) } });
    const res = await w.vend({ workspace: 'prod' });
    expect(res.status).toBe(503);
    expect(w.rows[0]).toMatchObject({ outcome: 'failed', status: 503, code: 'upstream_unavailable' });
    expect(w.logs[0]).toMatchObject({ level: 'error', message: 'token: 503', fields: { status: 503, code: 'upstream_unavailable', error: { name: 'UpstreamUnavailableError' } } });
    expect(w.logs[0]?.fields?.audit).toBeUndefined();
  });

  it('a refusal whose record cannot be written still answers the refusal, and says so in the log', async () => {
    const w = world({ audit: { record: () => Promise.reject(new Error('table down')) } });
    const res = await w.vend({ workspace: 'prod' }, { authorization: null });
    expect(res.status).toBe(401);
    expect(w.logs[0]).toMatchObject({ level: 'info', message: 'token: 401', fields: { code: 'invalid_token' } });
    // The refusal's row is written in the background: its failure is a log line of its own.
    await vi.waitFor(() => expect(w.logs).toContainEqual(expect.objectContaining({ level: 'warn', message: 'audit record of a refusal could not be written' })));
  });
});

describe('issueToken (oauth)', () => {
  // Two config grants admit the caller on prod for mode oauth: the row names both, the answer and
  // the row carry the scopes the workspace granted, and the same caller and scope set share a token.
  const oauthConfig = loadConfig({
    VENDING_CONFIG: JSON.stringify({
      cloud: 'AzurePublic', tenantId: TENANT, callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] }, keyVaultUrl: 'https://kv.vault.azure.net',
      servicePrincipals: { 'etl-sp': { clientId: '22222222-3333-4444-5555-666666666666', secret: 'etl-sp-secret' } },
      workspaces: { prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } },
      grants: [
        { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['oauth'], maxLifetimeSeconds: 1800, scopes: ['sql', 'jobs'] },
        { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['oauth'], maxLifetimeSeconds: 900, scopes: ['clusters'] },
      ],
    }),
    AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
    AUDIT_HMAC_KEY: HMAC.toString('base64'),
  });
  const OAUTH = jwt({ jti: 'jti-oauth', exp: 1_764_003_600 });

  it('answers with the granted scopes and records every grant that admitted the caller', async () => {
    const exchanges: { subject: string; scopes: readonly string[] }[] = [];
    const w = world({
      config: oauthConfig, grants: compileGrants(oauthConfig.grants, TENANT),
      oauth: { exchange: (_ws, subject, scopes) => (exchanges.push({ subject, scopes }), Promise.resolve({ token: OAUTH, expiresOnMs: 1_764_003_600_000, scopes: ['jobs', 'sql'] })) },
    });
    const res = await w.vend({ workspace: 'prod', mode: 'oauth', scopes: ['sql', 'jobs'] });
    expect(res.status).toBe(200);
    expect(bodyOf(res)).toMatchObject({ access_token: OAUTH, mode: 'oauth', scopes: ['jobs', 'sql'] });
    expect(exchanges).toEqual([{ subject: MAIN, scopes: ['jobs', 'sql'] }]);
    expect(w.rows).toEqual([expect.objectContaining({ outcome: 'issued', mode: 'oauth', token_id: 'jti-oauth', scopes: 'jobs sql', grant_id: 'config:0,config:1' })]);
  });
});

describe('issueToken (pat)', () => {
  it('creates a PAT for the grant maximum by default, marked with the caller and request', async () => {
    const w = world();
    const res = await w.vend({ workspace: 'prod', mode: 'pat' });
    expect(res.status).toBe(200);
    expect(w.pats).toEqual([{ lifetime: 1800, comment: `dbx-token-vending caller=${TENANT}/oid-1 request=req-1`, spToken: MAIN }]);
    expect(w.mints).toEqual([{ sp: 'etl-sp', scope: '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default', minValidity: 120 }]);
    const body = bodyOf(res);
    expect(body).toMatchObject({ access_token: `dapi${'a'.repeat(32)}`, token_id: 'tok-1', mode: 'pat', expires_on: (NOW + 1_800_000) / 1000 });
    expect(body.headers).toEqual({ Authorization: `Bearer dapi${'a'.repeat(32)}` });
    expect(w.rows[0]).toMatchObject({ outcome: 'issued', mode: 'pat', token_id: 'tok-1' });
  });

  it('accepts the maximum and refuses one second more, and refuses a management token', async () => {
    const w = world();
    expect((await w.vend({ workspace: 'prod', mode: 'pat', lifetime_seconds: 1800 })).status).toBe(200);
    const over = await w.vend({ workspace: 'prod', mode: 'pat', lifetime_seconds: 1801 });
    expect(bodyOf(over)).toMatchObject({ code: 'invalid_request', detail: 'lifetime_seconds must be between 60 and 1800 for this workspace.' });
    const mgmt = await w.vend({ workspace: 'prod', mode: 'pat', management_token: true });
    expect(bodyOf(mgmt)).toMatchObject({ code: 'invalid_request', detail: 'management_token applies to mode "aad" only.' });
    expect(w.pats).toHaveLength(1);
  });
});

describe('revokeToken', () => {
  it('records, then revokes with the caller mark, and answers 204 without a content type', async () => {
    const w = world();
    const res = await w.revoke('tok-1');
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({ 'x-request-id': 'req-1', 'Cache-Control': 'no-store' });
    expect(Object.keys(res.headers ?? {}).map((h) => h.toLowerCase())).not.toContain('content-type');
    expect(w.revokes).toEqual([{ tokenId: 'tok-1', mark: `dbx-token-vending caller=${TENANT}/oid-1 ` }]);
    expect(w.rows[0]).toMatchObject({ outcome: 'revoked', status: 204, code: 'revoked', token_id: 'tok-1', mode: 'pat', management_token: false, workspace: 'prod', service_principal: 'etl-sp' });
    expect(w.mints[0]?.minValidity).toBe(120);
  });

  it.each([['a b'], [''], ['x'.repeat(129)], ['../etc']])('refuses the token id %j before any upstream call', async (id) => {
    const w = world();
    const res = await w.revoke(id);
    expect(res.status).toBe(400);
    expect(w.mints).toEqual([]);
    expect(w.revokes).toEqual([]);
  });

  it('accepts a 128-character id of the allowed characters', async () => {
    const w = world();
    expect((await w.revoke(`${'A-_z9'.repeat(25)}abc`)).status).toBe(204);
  });
});
