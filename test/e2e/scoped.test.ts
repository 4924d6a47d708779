import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { claimsOf, stackWithHost } from './harness';

const env = stackWithHost();

interface Vend {
  access_token: string;
  expires_in: number;
  expires_on: number;
  scopes?: string[];
  mode: string;
  token_id?: string;
  headers: Record<string, string>;
}

const vendBody = (r: { json: Record<string, unknown> }): Vend => r.json as unknown as Vend;

describe('mode oauth: workspace-bound, API-scoped Databricks tokens', () => {
  it('works for its scope, is refused outside it and on another workspace, and traces to its caller', async () => {
    const { sandbox } = env.stack;
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters:read'] }, { headers: { 'x-request-id': 'oauth-1' } });
    expect(reply.status, reply.text).toBe(200);
    const body = vendBody(reply);
    expect(body).toMatchObject({ mode: 'oauth', scopes: ['clusters:read'] });
    expect(claimsOf(body.access_token)).toMatchObject({ iss: sandbox.workspace.oauthIssuer, scope: 'clusters:read', sub: sandbox.apps.servicePrincipals['etl-sp'].clientId });
    // The service counts the token's lifetime from when it sent the exchange, just before the
    // workspace stamped the token: never later than its exp, and a second earlier when a second
    // boundary falls between the two (the exchange's round trip).
    const exp = claimsOf(body.access_token).exp as number;
    expect([exp - 1, exp]).toContain(body.expires_on);
    expect(body.headers).toEqual({ Authorization: `Bearer ${body.access_token}` });

    const ws = (path: string, init: RequestInit = {}) => fetch(`${sandbox.workspaceUrl}${path}`, { ...init, headers: body.headers });
    expect((await ws('/api/2.0/clusters/list')).status).toBe(200);
    const create = await ws('/api/2.0/clusters/create', { method: 'POST', body: '{}' });
    expect(create.status).toBe(403);
    expect(await create.json()).toEqual({ error_code: 'PERMISSION_DENIED', message: 'Provided OAuth token does not have required scopes: clusters' });
    expect((await ws('/api/2.0/token/list')).status).toBe(403);

    const other = await sandbox.startExtraWorkspace('other-workspace');
    other.addServicePrincipal(sandbox.apps.servicePrincipals['etl-sp'].clientId, 'etl-sp');
    expect((await fetch(`${other.workspaceUrl}/api/2.0/clusters/list`, { headers: body.headers })).status).toBe(401);

    const row = (await env.stack.auditRows()).find((r) => r.request_id === 'oauth-1');
    expect(row).toMatchObject({ outcome: 'issued', mode: 'oauth', scopes: 'clusters:read', caller_appid: sandbox.apps.callerApp.clientId, token_id: claimsOf(body.access_token).jti });
  });

  it('gives the grant default when no scopes are asked for, and lists the scopes in GET /api/workspaces', async () => {
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth' });
    expect(vendBody(reply).scopes).toEqual(['clusters:read']);
    const list = await env.stack.call(env.host, '/workspaces');
    expect((list.json as unknown as { name: string }[]).find((w) => w.name === 'analytics-scoped')).toMatchObject({ modes: ['oauth', 'pat'], scopes: ['clusters:read', 'sql'], default_scopes: ['clusters:read'] });
  });

  it('a scope beyond the grant is 403 listing the allowed ones; bad syntax is 400', async () => {
    const beyond = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters'] });
    expect({ status: beyond.status, code: beyond.json.code }).toEqual({ status: 403, code: 'not_granted' });
    expect(beyond.json.detail).toContain('allowed scopes: clusters:read, sql');
    const bad = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters:write'] });
    expect({ status: bad.status, code: bad.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    const aad = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', scopes: ['sql'] });
    expect({ status: aad.status, code: aad.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(aad.json.detail).toContain('an aad token cannot be narrowed');
  });

  it('caches per caller and scope set, one exchange in flight at a time', async () => {
    const { workspace } = env.stack.sandbox;
    const callerA = await env.stack.callerToken();
    const callerB = await env.stack.callerToken({ kind: 'user' });
    workspace.resetCounters();
    const burst = await Promise.all([1, 2, 3, 4].map(() => env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql'] }, { token: callerA })));
    expect(new Set(burst.map((r) => vendBody(r).access_token)).size).toBe(1);
    expect(workspace.requests('/oidc/v1/token')).toBe(1);
    const otherScopes = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql', 'clusters:read'] }, { token: callerA });
    const otherCaller = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql'] }, { token: callerB });
    expect(workspace.requests('/oidc/v1/token')).toBe(3);
    expect(vendBody(otherCaller).access_token).not.toBe(vendBody(burst[0]).access_token);
    expect(vendBody(otherScopes).access_token).not.toBe(vendBody(burst[0]).access_token);
  });

  it('an exchange the workspace refuses is 502 saying which federation policy to create', async () => {
    const { sandbox } = env.stack;
    const etl = sandbox.apps.servicePrincipals['etl-sp'].clientId;
    const etlOid = sandbox.authority.objectIdOf(etl) ?? '';
    try {
      sandbox.workspace.clearFederationPolicies(etl);
      const none = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql:restricted-query'] });
      expect({ status: none.status, code: none.json.code }).toEqual({ status: 502, code: 'upstream_rejected' });
      expect(none.json.detail).toContain(`federation policy on the Databricks service principal ${etl} with issuer ${sandbox.authority.issuer}, audience 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d and subject ${etlOid}`);
      sandbox.workspace.setFederationPolicy(etl, { issuer: sandbox.authority.issuer, audiences: ['api://some-other-audience'], subject: etlOid });
      const wrongAudience = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql:read'] });
      expect({ status: wrongAudience.status, code: wrongAudience.json.code }).toEqual({ status: 502, code: 'upstream_rejected' });
      expect(wrongAudience.json.detail).toContain('(invalid_grant)');
      expect(wrongAudience.text).not.toContain('does not match any federation policy');
    } finally {
      sandbox.workspace.clearFederationPolicies(etl);
      sandbox.workspace.setFederationPolicy(etl, { issuer: sandbox.authority.issuer, audiences: ['2ff814a6-3304-4ab8-85cb-cd0e6f879c1d'], subject: etlOid });
    }
  });

  it('a workspace that cannot be reached is 503 with Retry-After, not a refusal', async () => {
    const { workspace } = env.stack.sandbox;
    workspace.setDown(true);
    try {
      const reply = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql', 'clusters:read'] }, { token: await env.stack.callerToken({ kind: 'user', claims: { oid: randomUUID() } }) });
      expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 503, code: 'upstream_unavailable' });
      expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      workspace.setDown(false);
    }
  });

  it('a pat under a grant with scopes is created with them: revocable and scoped', async () => {
    const { sandbox } = env.stack;
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'pat', lifetime_seconds: 600 });
    expect(reply.status, reply.text).toBe(200);
    const body = vendBody(reply);
    expect(body.scopes).toEqual(['clusters:read']);
    expect(sandbox.workspace.listTokens().find((t) => t.token_id === body.token_id)?.scopes).toEqual(['clusters:read']);
    expect((await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/list`, { headers: body.headers })).status).toBe(200);
    expect((await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/create`, { method: 'POST', headers: body.headers, body: '{}' })).status).toBe(403);
  });
});

describe('mode user: on-behalf-of', () => {
  it("hands a delegated caller their own AzureDatabricks token, which the workspace sees as that user", async () => {
    const { sandbox } = env.stack;
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'user' }, { token: await env.stack.callerToken({ kind: 'user' }), headers: { 'x-request-id': 'user-obo-1' } });
    expect(reply.status, reply.text).toBe(200);
    const body = vendBody(reply);
    expect(claimsOf(body.access_token)).toMatchObject({ aud: '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d', upn: sandbox.authority.userPrincipalName, idtyp: 'user', appid: sandbox.apps.vendingApp.clientId });
    const me = await fetch(`${sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: body.headers });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { userName: string }).userName).toBe(sandbox.authority.userPrincipalName);
    expect((await env.stack.auditRows()).find((r) => r.request_id === 'user-obo-1')).toMatchObject({ outcome: 'issued', mode: 'user', caller_kind: 'user' });
  });

  it("never hands one user's token to another", async () => {
    const first = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'user' }, { token: await env.stack.callerToken({ kind: 'user' }) });
    const oid = randomUUID();
    const otherUser = await env.stack.callerToken({ kind: 'user', claims: { oid, upn: 'other.user@sandbox.example' } });
    const second = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'user' }, { token: otherUser });
    expect(second.status, second.text).toBe(200);
    expect(claimsOf(vendBody(second).access_token)).toMatchObject({ oid, upn: 'other.user@sandbox.example' });
    expect(claimsOf(vendBody(first).access_token).oid).not.toBe(oid);
  });

  it('without the federated credential on the vending API app: 502 saying what to configure', async () => {
    const { sandbox } = env.stack;
    const { vendingApp } = sandbox.apps;
    const oid = sandbox.authority.objectIdOf(vendingApp.clientId) ?? '';
    const registration = { secrets: [vendingApp.secret], displayName: 'dbx-token-vending', objectId: oid, identifierUris: ['api://dbx-token-vending'] };
    try {
      sandbox.authority.registerClient(vendingApp.clientId, registration);
      const stranger = await env.stack.callerToken({ kind: 'user', claims: { oid: randomUUID(), upn: 'new.user@sandbox.example' } });
      const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'user' }, { token: stranger });
      expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 502, code: 'upstream_rejected' });
      expect(reply.json.detail).toContain('federated credential trusting the app\'s managed identity');
    } finally {
      sandbox.authority.registerClient(vendingApp.clientId, { ...registration, federatedSubjects: [oid] });
    }
  });

  it('an app-only caller asking for mode user is 400; a grant without the mode is 403', async () => {
    const app = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'user' });
    expect({ status: app.status, code: app.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(app.json.detail).toContain('delegated (user) callers only');
    const notAllowed = await env.stack.vend(env.host, { workspace: 'analytics-scoped', mode: 'user' }, { token: await env.stack.callerToken({ kind: 'user' }) });
    expect({ status: notAllowed.status, code: notAllowed.json.code }).toEqual({ status: 403, code: 'not_granted' });
  });
});

describe('start-up', () => {
  it('warns once that aad on analytics-sandbox also works on analytics-scoped (same SP)', () => {
    const warnings = env.host.output().split('\n').filter((l) => l.includes('config warning'));
    expect(warnings).toEqual([expect.stringContaining('allows mode aad on workspace "analytics-sandbox", whose service principal "etl-sp" also serves "analytics-scoped"') as string]);
  });
});

describe('no leaks', () => {
  it('leaves no token or secret in logs, errors or audit rows (the scan runs after the last test)', () => {
    expect(env.stack.vendedTokens.length).toBeGreaterThan(5);
  });
});
