import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type * as Config from '../../src/core/config';
import { loadAnew } from '../support/load-anew';

// What an operator reads at start-up (ConfigError, broad-token warnings), which authorities get
// Microsoft's instance discovery, which settings a deployment carries, and the file source. The
// cloud table, the authority pattern and the settings lists are built when the module loads: each
// test loads it anew (see loadAnew).

let APP_SETTINGS: typeof Config.APP_SETTINGS;
let CLOUDS: typeof Config.CLOUDS;
let ConfigError: typeof Config.ConfigError;
let DEPLOYED_SETTINGS: typeof Config.DEPLOYED_SETTINGS;
let LOCAL_ONLY_SETTINGS: typeof Config.LOCAL_ONLY_SETTINGS;
let broadTokenWarnings: typeof Config.broadTokenWarnings;
let isMicrosoftAuthority: typeof Config.isMicrosoftAuthority;
let loadConfig: typeof Config.loadConfig;
beforeEach(async () => {
  ({ APP_SETTINGS, CLOUDS, ConfigError, DEPLOYED_SETTINGS, LOCAL_ONLY_SETTINGS, broadTokenWarnings, isMicrosoftAuthority, loadConfig } = await loadAnew(() => import('../../src/core/config/index.js')));
});

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const HMAC = Buffer.alloc(32, 7).toString('base64');

describe('ConfigError', () => {
  it('lists every problem, one a line, and counts them', () => {
    const one = new ConfigError(['tenantId: must be a GUID']);
    expect(one.message).toBe('invalid configuration (1 problem):\n  - tenantId: must be a GUID');
    const two = new ConfigError(['a: x', 'b: y']);
    expect(two.message).toBe('invalid configuration (2 problems):\n  - a: x\n  - b: y');
    expect(two.issues).toEqual(['a: x', 'b: y']);
    expect(two).toBeInstanceOf(Error);
    expect(two.name).toBe('ConfigError');
    expect(two.code).toBe('ERR_CONFIG_INVALID');
    expect(new ConfigError([]).message).toBe('invalid configuration (0 problems):\n');
  });
});

describe('isMicrosoftAuthority', () => {
  it('is true for the public, government, China and microsoft.com authorities only', () => {
    for (const cloud of Object.values(CLOUDS)) expect(isMicrosoftAuthority(cloud.authorityHost)).toBe(true);
    expect(isMicrosoftAuthority('https://login.microsoft.com')).toBe(true);
    for (const other of ['https://login.example.test', 'http://login.microsoftonline.com', 'https://login.microsoftonline.com/', 'https://login.microsoftonline.com.evil.test', 'https://xlogin.microsoftonline.com', 'https://login.microsoftonlinexcom', 'xhttps://login.microsoftonline.com']) {
      expect(isMicrosoftAuthority(other), other).toBe(false);
    }
  });
});

describe('deployed settings', () => {
  it('are exactly the app settings that are not local-only', () => {
    expect([...DEPLOYED_SETTINGS].sort()).toEqual(
      ['AUDIT_HMAC_SECRET_NAME', 'AUDIT_TABLE_ENDPOINT', 'AUDIT_TABLE_NAME', 'AZURE_AUTHORITY_HOST', 'AZURE_CLIENT_ID', 'AZURE_MANAGEMENT_SCOPE', 'DATABRICKS_RESOURCE_ID', 'GRANTS_TABLE_ENDPOINT', 'GRANTS_TABLE_NAME', 'VENDING_CONFIG'].sort(),
    );
    for (const name of Object.values(APP_SETTINGS)) expect(DEPLOYED_SETTINGS.includes(name) !== LOCAL_ONLY_SETTINGS.includes(name), name).toBe(true);
  });

  it('keep the emulator, local-trust and process-identity switches local, the audit key as a value among them', () => {
    expect([...LOCAL_ONLY_SETTINGS].sort()).toEqual(
      ['AUDIT_CONNECTION_STRING', 'AUDIT_HMAC_KEY', 'AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'GRANTS_CONNECTION_STRING', 'KEYVAULT_CHALLENGE_VERIFICATION', 'NODE_EXTRA_CA_CERTS', 'VENDING_ALLOW_LOOPBACK_WORKSPACES', 'VENDING_CONFIG_FILE', 'VENDING_REQUEST_BUDGET_MS'],
    );
  });
});

function document(workspaces: Record<string, string>, grants: { workspace: string; modes: string[] }[]): Record<string, unknown> {
  return {
    cloud: 'AzurePublic', tenantId: TENANT, callers: { audiences: ['api://x'], allowedTenants: [TENANT] }, keyVaultUrl: 'https://kv.vault.azure.net',
    servicePrincipals: { shared: { clientId: SP, secret: 's' }, own: { clientId: SP, secret: 't' } },
    workspaces: Object.fromEntries(Object.entries(workspaces).map(([name, sp]) => [name, { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: sp }])),
    grants: grants.map((g) => ({ ...g, callers: { roles: ['R'] }, maxLifetimeSeconds: 600, ...(g.modes.includes('oauth') ? { scopes: ['sql'] } : {}) })),
  };
}

const env = (doc: unknown): Record<string, string> => ({ VENDING_CONFIG: JSON.stringify(doc), AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: HMAC });

describe('broadTokenWarnings', () => {
  it('names every other workspace of the shared service principal, sorted, for each aad grant', () => {
    const config = loadConfig(env(document({ zeta: 'shared', alpha: 'shared', mid: 'shared', solo: 'own' }, [
      { workspace: 'zeta', modes: ['pat', 'aad'] },
      { workspace: 'solo', modes: ['aad'] },
      { workspace: 'alpha', modes: ['oauth', 'pat'] },
      { workspace: 'mid', modes: ['aad'] },
    ])));
    expect(broadTokenWarnings(config)).toEqual([
      'grants.0 allows mode aad on workspace "zeta", whose service principal "shared" also serves "alpha", "mid": an aad token works on all of them. Prefer mode oauth (one workspace, granted scopes) for cross-team grants.',
      'grants.3 allows mode aad on workspace "mid", whose service principal "shared" also serves "alpha", "zeta": an aad token works on all of them. Prefer mode oauth (one workspace, granted scopes) for cross-team grants.',
    ]);
  });

  it('has nothing to say when every service principal serves one workspace', () => {
    expect(broadTokenWarnings(loadConfig(env(document({ a: 'shared', b: 'own' }, [{ workspace: 'a', modes: ['aad'] }, { workspace: 'b', modes: ['aad'] }]))))).toEqual([]);
  });
});

describe('VENDING_CONFIG_FILE', () => {
  it('reads the document from a file, and says when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'config-file-'));
    try {
      const file = join(dir, 'vending.json');
      await writeFile(file, JSON.stringify(document({ a: 'shared' }, [{ workspace: 'a', modes: ['aad'] }])));
      const base = { AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: HMAC };
      expect(loadConfig({ ...base, VENDING_CONFIG_FILE: file }).workspaces.has('a')).toBe(true);
      const issues = (e: Record<string, string>): readonly string[] => {
        try {
          loadConfig(e);
        } catch (err) {
          return (err as InstanceType<typeof ConfigError>).issues;
        }
        return [];
      };
      expect(issues({ ...base, VENDING_CONFIG_FILE: join(dir, 'missing.json') })).toEqual(['VENDING_CONFIG_FILE: the file cannot be read']);
      await writeFile(file, '{ not json');
      expect(issues({ ...base, VENDING_CONFIG_FILE: file })).toEqual([expect.stringMatching(/^VENDING_CONFIG_FILE: not valid JSON \(.+\)$/)]);
      expect(issues({ ...base, VENDING_CONFIG: '[1,' })).toEqual([expect.stringMatching(/^VENDING_CONFIG: not valid JSON \(.+\)$/)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
