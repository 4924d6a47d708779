import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/core/config';
import { broadTokenWarnings, loadConfig } from '../../src/core/config';
import { NotGrantedError, UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { KeyedTokenCache, createDatabricksTokenExchanger, sanitizeExchangeFailure } from '../../src/core/mint';
import { apiScopeProblem, grantScopes, scopeCovers } from '../../src/core/policy';

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';

describe('Databricks API scope syntax', () => {
  it.each(['sql', 'clusters:read', 'sql:restricted-query', 'sql:read:restricted-query', 'unity-catalog', 'all-apis'])('accepts %s', (s) => {
    expect(apiScopeProblem(s)).toBeUndefined();
  });
  it.each(['SQL', 'clusters:write', 'clusters:read:read', 'jobs:restricted-query', 'all-apis:read', '', 'sql ', 'a'.repeat(70)])('refuses %j', (s) => {
    expect(apiScopeProblem(s)).toEqual(expect.any(String));
  });

  it('a scope without modifier covers its modifiers; modifiers combine as a union; all-apis covers all', () => {
    expect(scopeCovers('clusters', 'clusters:read')).toBe(true);
    expect(scopeCovers('clusters:read', 'clusters')).toBe(false);
    expect(scopeCovers('sql:read:restricted-query', 'sql:read')).toBe(true);
    expect(scopeCovers('sql:restricted-query', 'sql:read')).toBe(false);
    expect(scopeCovers('all-apis', 'jobs')).toBe(true);
    expect(scopeCovers('jobs', 'clusters')).toBe(false);
  });

  it('grants the requested or default scopes within the grant, and lists the allowed ones otherwise', () => {
    expect(grantScopes('ws', ['clusters:read', 'sql'], ['sql'], undefined)).toEqual(['sql']);
    expect(grantScopes('ws', ['clusters:read', 'sql'], [], ['sql:restricted-query', 'clusters:read', 'sql:restricted-query'])).toEqual(['clusters:read', 'sql:restricted-query']);
    const beyond = (): unknown => grantScopes('ws', ['clusters:read', 'sql'], [], ['clusters']);
    expect(beyond).toThrow(NotGrantedError);
    expect(beyond).toThrow('allowed scopes: clusters:read, sql');
    expect(() => grantScopes('ws', ['sql'], [], undefined)).toThrow(/names no default/);
  });
});

describe('grant scopes in the config', () => {
  const load = (grant: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    loadConfig({
      VENDING_CONFIG: JSON.stringify({
        cloud: 'AzurePublic', tenantId: TENANT, callers: { audiences: ['api://x'], allowedTenants: [TENANT] }, keyVaultUrl: 'https://kv.vault.azure.net',
        servicePrincipals: { sp: { clientId: SP, secret: 's' } },
        workspaces: { ws: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'sp' } },
        grants: [{ workspace: 'ws', callers: { roles: ['R'] }, maxLifetimeSeconds: 600, ...grant }], ...extra,
      }),
      AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
  const issues = (grant: Record<string, unknown>, extra: Record<string, unknown> = {}): readonly string[] => {
    try {
      load(grant, extra);
    } catch (err) {
      return (err as ConfigError).issues;
    }
    return [];
  };

  it('accepts oauth with scopes and a default within them; the SP federation audience defaults to AzureDatabricks', () => {
    const config = load({ modes: ['oauth', 'pat'], scopes: ['sql', 'clusters:read'], defaultScopes: ['sql:restricted-query'] });
    expect(config.workspaces.get('ws')?.servicePrincipal.federationScope).toBe('2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default');
  });

  it('refuses oauth without scopes, a default outside them, bad syntax, and user without onBehalfOf', () => {
    expect(issues({ modes: ['oauth'] })).toContain('grants.0.scopes: mode oauth needs the scopes a caller may ask for');
    expect(issues({ modes: ['oauth'], scopes: ['sql:read'], defaultScopes: ['sql'] }).join()).toContain('default scope "sql" is not within');
    expect(issues({ modes: ['oauth'], scopes: ['clusters:write'] }).join()).toContain('grants.0.scopes.0');
    expect(issues({ modes: ['user'] }).join()).toContain('mode user needs onBehalfOf.clientId');
    expect(issues({ modes: ['user'] }, { onBehalfOf: { clientId: SP } })).toEqual([]);
  });
});

describe('token exchange refusals', () => {
  const ws = { name: 'ws', host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: { name: 'sp', clientId: SP, credential: { kind: 'secret' as const, name: 's' }, federationScope: 'x/.default' } };
  const subject = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://login.microsoftonline.com/t/v2.0', aud: 'aud-1', sub: 'oid-1' })).toString('base64url')}.c2lnbmF0dXJlLXNlY3JldA`;

  it('says which federation policy to create, keeps only the OAuth code, never the token or the description', () => {
    const err = sanitizeExchangeFailure(401, { error: 'invalid_client', error_description: 'secret detail <script>' }, ws, subject);
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect(err.detail).toContain('(invalid_client)');
    expect(err.detail).toContain(`federation policy on the Databricks service principal ${SP} with issuer https://login.microsoftonline.com/t/v2.0, audience aud-1 and subject oid-1`);
    expect(err.detail).not.toContain('secret detail');
    expect(err.detail).not.toContain('c2lnbmF0dXJlLXNlY3JldA');
  });

  it('an odd error code is not echoed; 5xx and 429 are unavailable, not refused', () => {
    expect(sanitizeExchangeFailure(400, { error: 'x"y' }, ws, 'opaque').detail).toContain('(HTTP 400)');
    expect(sanitizeExchangeFailure(503, {}, ws, subject)).toBeInstanceOf(UpstreamUnavailableError);
    expect(sanitizeExchangeFailure(429, {}, ws, subject)).toBeInstanceOf(UpstreamUnavailableError);
  });
});

describe('KeyedTokenCache', () => {
  it('one mint in flight per key, separate keys mint separately, fresh tokens are reused', async () => {
    let now = 0;
    const cache = new KeyedTokenCache<{ token: string; expiresOnMs: number }>({ now: () => now });
    let mints = 0;
    const mint = () => new Promise<{ token: string; expiresOnMs: number }>((resolve) => setImmediate(() => resolve({ token: `t${++mints}`, expiresOnMs: now + 3_600_000 })));
    const [a, b, c] = await Promise.all([cache.get('alice', 300, mint), cache.get('alice', 300, mint), cache.get('bob', 300, mint)]);
    expect(a.token).toBe(b.token);
    expect(c.token).not.toBe(a.token);
    expect(mints).toBe(2);
    now += 3_600_000 - 200_000;
    expect((await cache.get('alice', 300, mint)).token).not.toBe(a.token);
    expect(mints).toBe(3);
  });

  it('stays bounded', async () => {
    const cache = new KeyedTokenCache<{ token: string; expiresOnMs: number }>({ now: () => 0 }, 5);
    for (let i = 0; i < 20; i++) await cache.get(`k${i}`, 0, () => Promise.resolve({ token: 't', expiresOnMs: 1e12 }));
    expect(cache.size).toBe(5);
  });
});

describe('broadTokenWarnings', () => {
  it('warns once per grant allowing aad on a workspace whose SP serves several workspaces', () => {
    const ws = (sp: string) => ({ host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: sp });
    const config = loadConfig({
      VENDING_CONFIG: JSON.stringify({
        cloud: 'AzurePublic', tenantId: TENANT, callers: { audiences: ['api://x'], allowedTenants: [TENANT] }, keyVaultUrl: 'https://kv.vault.azure.net',
        servicePrincipals: { shared: { clientId: SP, secret: 's' }, own: { clientId: TENANT, secret: 't' } },
        workspaces: { a: ws('shared'), b: ws('shared'), c: ws('own') },
        grants: [
          { workspace: 'a', callers: { roles: ['R'] }, modes: ['aad'], maxLifetimeSeconds: 600 },
          { workspace: 'b', callers: { roles: ['R'] }, modes: ['oauth'], scopes: ['sql'], maxLifetimeSeconds: 600 },
          { workspace: 'c', callers: { roles: ['R'] }, modes: ['aad'], maxLifetimeSeconds: 600 },
        ],
      }),
      AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: Buffer.alloc(32, 1).toString('base64'),
    });
    expect(broadTokenWarnings(config)).toEqual([
      'grants.0 allows mode aad on workspace "a", whose service principal "shared" also serves "b": an aad token works on all of them. Prefer mode oauth (one workspace, granted scopes) for cross-team grants.',
    ]);
  });
});

describe('token exchange deadline', () => {
  it('a workspace that never answers is 503 after our own deadline, whatever fetch does', async () => {
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => void held.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const ws = { name: 'ws', host: `http://127.0.0.1:${port}`, resourceId: RESOURCE, servicePrincipal: { name: 'sp', clientId: SP, credential: { kind: 'secret' as const, name: 's' }, federationScope: 'x/.default' } };
      const started = Date.now();
      const error = await createDatabricksTokenExchanger({ deadlineMs: 500 }).exchange(ws, 'subject', ['sql']).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect((error as UpstreamUnavailableError).detail).toContain('did not answer the token exchange within 0.5 s');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(held).toHaveLength(1);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
