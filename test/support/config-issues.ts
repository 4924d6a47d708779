import { expect } from 'vitest';
import type { Env, VendingConfig } from '../../src/core/config';
import { loadAnew } from './load-anew';

const TENANT = '11111111-2222-3333-4444-555555555555';

/** A valid VENDING_CONFIG document: one tenant, one SP, one workspace, one grant; `over` replaces top-level keys. */
export function configDocument(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cloud: 'AzurePublic',
    tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv-vending.vault.azure.net/',
    servicePrincipals: { 'etl-sp': { clientId: '22222222-3333-4444-5555-666666666666', secret: 'etl-sp-secret' } },
    workspaces: {
      'analytics-prod': {
        host: 'https://adb-1234567890123456.7.azuredatabricks.net',
        resourceId: '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws',
        servicePrincipal: 'etl-sp',
      },
    },
    grants: [{ workspace: 'analytics-prod', callers: { roles: ['Vend.AnalyticsProd'] }, modes: ['aad'], maxLifetimeSeconds: 3600 }],
    ...over,
  };
}

/** The app settings around a document: the audit table endpoint and an HMAC key, plus `extra`. */
export function configEnv(document: unknown, extra: Record<string, string> = {}): Record<string, string> {
  return { VENDING_CONFIG: JSON.stringify(document), AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: Buffer.alloc(32, 7).toString('base64'), ...extra };
}

/** loadConfig, and the issues it refuses settings with (failing the test if it accepts them), from one fresh copy of the config module. */
export interface FreshConfig {
  readonly load: (env: Env) => VendingConfig;
  readonly issues: (env: Env) => readonly string[];
}

/**
 * The config module loaded anew (see loadAnew): its schema is built at import, so a test that
 * checks a bound, a rule or a default must read it from a copy built inside the test. Call from a
 * test or a `beforeEach`. Its ConfigError is the copy's own, so the refusal is checked against it.
 */
export async function freshConfig(): Promise<FreshConfig> {
  const fresh = await loadAnew(() => import('../../src/core/config/index.js'));
  return {
    load: (env) => fresh.loadConfig(env),
    issues: (env) => {
      try {
        fresh.loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(fresh.ConfigError);
        return (err as InstanceType<typeof fresh.ConfigError>).issues;
      }
      throw new Error('expected a ConfigError');
    },
  };
}
