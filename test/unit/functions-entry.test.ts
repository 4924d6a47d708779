import { app } from '@azure/functions';
import { describe, expect, it, vi } from 'vitest';
import { loadAnew } from '../support/load-anew';

const TENANT = '11111111-2222-3333-4444-555555555555';

describe('src/index.ts (what the Functions host loads)', () => {
  it('turns HTTP streaming on, validates the configuration at load and registers every route as anonymous with all methods', async () => {
    const http = vi.spyOn(app, 'http').mockImplementation(() => undefined);
    const setup = vi.spyOn(app, 'setup').mockImplementation(() => undefined);
    vi.stubEnv('VENDING_CONFIG', JSON.stringify({
      cloud: 'AzurePublic',
      tenantId: TENANT,
      callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
      keyVaultUrl: 'https://kv.vault.azure.net',
      servicePrincipals: {},
      workspaces: {},
      grants: [],
    }));
    vi.stubEnv('AUDIT_TABLE_ENDPOINT', 'https://st.table.core.windows.net');
    vi.stubEnv('AUDIT_HMAC_KEY', Buffer.alloc(32, 1).toString('base64'));
    await loadAnew(() => import('../../src/index.js'));
    // HTTP streaming on: the body reaches the handler as a stream, bounded while read.
    expect(setup.mock.calls).toEqual([[{ enableHttpStream: true }]]);
    const routes = http.mock.calls.map(([name, options]) => ({ name, route: options.route, authLevel: options.authLevel, methods: options.methods }));
    expect(routes.map((r) => `${r.name} ${r.route}`)).toEqual([
      'token token', 'revokeToken token/{workspace}/{token_id}', 'workspaces workspaces', 'audit audit', 'auditLookup audit/lookup', 'health health',
      'grants grants', 'grant grants/{id}', 'grantRenew grants/{id}/renew', 'grantRequests grant-requests', 'grantRequestApprove grant-requests/{id}/approve', 'grantRequestDecline grant-requests/{id}/decline',
    ]);
    for (const r of routes) {
      expect(r.authLevel).toBe('anonymous');
      expect(r.methods).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
    }
    vi.unstubAllEnvs();
  });
});

describe('clientAddress', () => {
  it('takes the entry the front end appended, without its port', async () => {
    const { clientAddress } = await loadAnew(() => import('../../src/functions/adapter.js'));
    expect(clientAddress('203.0.113.9:51234')).toBe('203.0.113.9');
    expect(clientAddress('6.6.6.6, 203.0.113.9:443')).toBe('203.0.113.9');
    expect(clientAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(clientAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddress(null)).toBeUndefined();
  });
});
