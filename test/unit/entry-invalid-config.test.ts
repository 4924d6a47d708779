import { app } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConfigError } from '../../src/core/config';
import { loadAnew } from '../support/load-anew';

const TENANT = '11111111-2222-3333-4444-555555555555';
const HMAC = Buffer.alloc(32, 7).toString('base64');

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  vi.resetModules();
});

async function loadEntry(): Promise<{ error: unknown; routes: number }> {
  const http = vi.spyOn(app, 'http').mockImplementation(() => undefined);
  vi.spyOn(app, 'setup').mockImplementation(() => undefined);
  let error: unknown;
  try {
    await loadAnew(() => import('../../src/index.js'));
  } catch (err) {
    error = err;
  }
  return { error, routes: http.mock.calls.length };
}

describe('src/index.ts with an invalid configuration', () => {
  it('throws a ConfigError listing every problem and registers no route', async () => {
    vi.stubEnv('VENDING_CONFIG', JSON.stringify({
      cloud: 'AzurePublic', tenantId: 'not-a-guid',
      callers: { audiences: [], allowedTenants: [TENANT] },
      keyVaultUrl: 'http://kv.vault.azure.net', servicePrincipals: {}, workspaces: {}, grants: [],
    }));
    vi.stubEnv('AUDIT_TABLE_ENDPOINT', 'https://st.table.core.windows.net');
    vi.stubEnv('AUDIT_HMAC_KEY', HMAC);
    const { error, routes } = await loadEntry();
    // A fresh module graph per load: the class is checked by its stable name and code.
    expect(error).toMatchObject({ name: 'ConfigError', code: 'ERR_CONFIG_INVALID' });
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toMatch(/tenantId/);
    expect(issues).toMatch(/keyVaultUrl/);
    expect((error as ConfigError).issues.length).toBeGreaterThanOrEqual(2);
    expect(routes).toBe(0);
  });

  it('throws and registers no route when the audit sink is missing', async () => {
    vi.stubEnv('VENDING_CONFIG', JSON.stringify({
      cloud: 'AzurePublic', tenantId: TENANT, callers: { audiences: ['api://x'], allowedTenants: [TENANT] },
      keyVaultUrl: 'https://kv.vault.azure.net', servicePrincipals: {}, workspaces: {}, grants: [],
    }));
    vi.stubEnv('AUDIT_TABLE_ENDPOINT', '');
    vi.stubEnv('AUDIT_CONNECTION_STRING', '');
    const { error, routes } = await loadEntry();
    // A fresh module graph per load: the class is checked by its stable name and code.
    expect(error).toMatchObject({ name: 'ConfigError', code: 'ERR_CONFIG_INVALID' });
    expect((error as ConfigError).issues.join('\n')).toMatch(/AUDIT_TABLE_ENDPOINT/);
    expect(routes).toBe(0);
  });
});
