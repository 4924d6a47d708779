import { loadConfig } from '../../src/core/config';

// One home tenant, one Key Vault and one SP, with the workspaces and grants a test names: the
// configuration the handler-level unit tests of the vend routes share.
export const TENANT = '11111111-2222-3333-4444-555555555555';
export const RESOURCE =
  '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';

export function vendConfig(workspaces: Record<string, string>, grants: unknown[]): ReturnType<typeof loadConfig> {
  return loadConfig({
    VENDING_CONFIG: JSON.stringify({
      cloud: 'AzurePublic',
      tenantId: TENANT,
      callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
      keyVaultUrl: 'https://kv.vault.azure.net',
      servicePrincipals: { 'etl-sp': { clientId: '22222222-3333-4444-5555-666666666666', secret: 'etl-sp-secret' } },
      workspaces: Object.fromEntries(
        Object.entries(workspaces).map(([name, host]) => [
          name,
          { host, resourceId: name === 'prod' ? RESOURCE : RESOURCE.replace(/ws$/, name), servicePrincipal: 'etl-sp' },
        ]),
      ),
      grants,
    }),
    AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
    AUDIT_HMAC_KEY: Buffer.alloc(32, 3).toString('base64'),
  });
}
