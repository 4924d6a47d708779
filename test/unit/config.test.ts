import { beforeEach, describe, expect, it } from 'vitest';
import type { Env, VendingConfig } from '../../src/core/config';
import { configDocument, configEnv, freshConfig } from '../support/config-issues';
import type { FreshConfig } from '../support/config-issues';

// The cloud table and the schema are built when the config module loads: each test loads it anew
// (freshConfig, see loadAnew).
let fresh: FreshConfig;
beforeEach(async () => {
  fresh = await freshConfig();
});
const loadConfig = (env: Env): VendingConfig => fresh.load(env);

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const HMAC = Buffer.alloc(32, 7).toString('base64');

const doc = configDocument;

const env = configEnv;

const issuesOf = (env: Env): readonly string[] => fresh.issues(env);

describe('loadConfig', () => {
  it('lets a grant name other tenants only from callers.allowedTenants, as GUIDs', () => {
    const OTHER = '99999999-8888-7777-6666-555555555555';
    const grant = (tenants: unknown): Record<string, unknown> => ({ workspace: 'analytics-prod', callers: { roles: ['R'] }, modes: ['aad'], maxLifetimeSeconds: 3600, tenants });
    const callers = { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT, OTHER.toUpperCase()] };
    expect(loadConfig(env(doc({ callers, grants: [grant([TENANT, OTHER])] }))).grants[0]?.tenants).toEqual([TENANT, OTHER]);
    expect(issuesOf(env(doc({ grants: [grant([OTHER])] })))).toEqual([`grants.0.tenants: "${OTHER}" is not in callers.allowedTenants`]);
    expect(issuesOf(env(doc({ callers, grants: [grant(['contoso.onmicrosoft.com'])] })))).toEqual(
      expect.arrayContaining(['grants.0.tenants.0: must be a GUID', 'grants.0.tenants: "contoso.onmicrosoft.com" is not in callers.allowedTenants']),
    );
    expect(issuesOf(env(doc({ callers, grants: [grant([])] })))).toEqual([expect.stringMatching(/^grants\.0\.tenants: /)]);
  });

  it('accepts the documented example and applies cloud defaults', () => {
    const config = loadConfig(env(doc()));
    expect(config.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.databricksScope).toBe('2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default');
    expect(config.managementScope).toBe('https://management.core.windows.net//.default');
    expect(config.keyVaultUrl).toBe('https://kv-vending.vault.azure.net');
    expect(config.workspaces.get('analytics-prod')?.servicePrincipal.credential).toEqual({ kind: 'secret', name: 'etl-sp-secret' });
    expect(config.perCallerPerMinute).toBe(120);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.grants[0])).toBe(true);
  });

  it('uses sovereign cloud endpoints and lets AZURE_AUTHORITY_HOST override the authority', () => {
    const gov = doc({ cloud: 'AzureUSGovernment', workspaces: { 'analytics-prod': { host: 'https://adb-1.2.databricks.azure.us', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    const config = loadConfig(env(gov, { AZURE_AUTHORITY_HOST: 'https://login.example.test/' }));
    expect(config.managementScope).toBe('https://management.core.usgovcloudapi.net//.default');
    expect(config.authorityHost).toBe('https://login.example.test');
    expect(config.v2IssuerHost).toBe('https://login.example.test');
  });

  it('knows that Azure China issues v2 tokens under another host than its authority', () => {
    const china = doc({ cloud: 'AzureChina', workspaces: { 'analytics-prod': { host: 'https://adb-1.2.databricks.azure.cn', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    const config = loadConfig(env(china));
    expect(config.authorityHost).toBe('https://login.chinacloudapi.cn');
    expect(config.v2IssuerHost).toBe('https://login.partner.microsoftonline.cn');
    expect(config.v1IssuerBase).toBe('https://sts.chinacloudapi.cn/');
  });

  it('lists every offending path at once', () => {
    const bad = doc({
      tenantId: 'not-a-guid',
      keyVaultUrl: 'http://kv.vault.azure.net',
      servicePrincipals: { 'etl-sp': { clientId: SP, secret: 'a', certificate: 'b' } },
      grants: [{ workspace: 'missing', callers: { roles: ['r'] }, modes: ['aad'], maxLifetimeSeconds: 3600, extra: true }],
    });
    const issues = issuesOf(env(bad, { AUDIT_HMAC_KEY: 'c2hvcnQ=' }));
    expect(issues).toEqual(
      expect.arrayContaining([
        'tenantId: must be a GUID',
        'keyVaultUrl: must be an https URL',
        'servicePrincipals.etl-sp: must have exactly one credential: secret, certificate or federated: true',
        expect.stringMatching(/^grants\.0: Unrecognized key: "extra"/),
        'AUDIT_HMAC_KEY: must be base64 of at least 32 bytes',
      ]),
    );
    expect(issues.length).toBeGreaterThanOrEqual(5);
  });

  it('rejects references to unknown workspaces and service principals', () => {
    const bad = doc({
      workspaces: { 'analytics-prod': { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'ghost-sp' } },
      grants: [{ workspace: 'nowhere', callers: { appIds: [SP] }, modes: ['pat'], maxLifetimeSeconds: 600 }],
    });
    expect(issuesOf(env(bad))).toEqual([
      'workspaces.analytics-prod.servicePrincipal: no service principal named "ghost-sp"',
      'grants.0.workspace: no workspace named "nowhere"',
    ]);
  });

  it('does not take inherited names for references', () => {
    const bad = doc({ grants: [{ workspace: 'constructor', callers: { roles: ['r'] }, modes: ['aad'], maxLifetimeSeconds: 600 }] });
    expect(issuesOf(env(bad))).toEqual(['grants.0.workspace: no workspace named "constructor"']);
  });

  it('requires workspace hosts of the configured cloud, and loopback only with the local switch', () => {
    const loopback = doc({ workspaces: { 'analytics-prod': { host: 'https://127.0.0.1:8443', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    expect(issuesOf(env(loopback))).toEqual(['workspaces.analytics-prod.host: must be a workspace host ending in .azuredatabricks.net for cloud AzurePublic']);
    expect(loadConfig(env(loopback, { VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on' })).workspaces.get('analytics-prod')?.host).toBe('https://127.0.0.1:8443');
    const path = doc({ workspaces: { 'analytics-prod': { host: 'https://adb-1.2.azuredatabricks.net/api', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    expect(issuesOf(env(path))).toEqual(['workspaces.analytics-prod.host: must be an origin only (https://adb-….azuredatabricks.net)']);
  });

  it('a workspace host that is not a string is reported once, as such, and its value is not read as a host', () => {
    // An array of one URL reads as that URL when made a string: it must still not be checked as a host.
    const listed = doc({ workspaces: { 'analytics-prod': { host: ['https://example.com/api'], resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    expect(issuesOf(env(listed))).toEqual(['workspaces.analytics-prod.host: must be an https URL']);
  });

  it('has no defaults for security-relevant values', () => {
    const { tenantId: _t, callers: _c, grants: _g, ...rest } = doc();
    expect(issuesOf(env(rest))).toEqual(['tenantId: required (string)', 'callers: required (object)', 'grants: required (array)']);
  });

  it('reports missing settings, unreadable JSON, and both sources at once', () => {
    expect(issuesOf({})).toEqual([
      'VENDING_CONFIG: missing (or set VENDING_CONFIG_FILE to a file path)',
      'AUDIT_TABLE_ENDPOINT: missing (no audit sink, no tokens)',
    ]);
    expect(issuesOf({ ...env(doc()), VENDING_CONFIG: '{nope' })[0]).toMatch(/^VENDING_CONFIG: not valid JSON/);
    expect(issuesOf({ ...env(doc()), VENDING_CONFIG_FILE: '/nonexistent' })[0]).toBe('VENDING_CONFIG and VENDING_CONFIG_FILE: set one, not both');
    expect(issuesOf({ ...env(doc()), AZURE_AUTHORITY_HOST: 'http://login.local' })).toEqual(['AZURE_AUTHORITY_HOST: must be an https origin (MSAL refuses anything else)']);
  });

  it('reads the audit key from the vault by name unless AUDIT_HMAC_KEY holds a usable key', () => {
    const { AUDIT_HMAC_KEY: _key, ...noKey } = env(doc());
    expect(loadConfig(noKey).service.auditKey).toEqual({ kind: 'secret', secretName: 'audit-hmac-key', unresolvedReference: false });
    expect(loadConfig({ ...noKey, AUDIT_HMAC_SECRET_NAME: 'other-key' }).service.auditKey).toMatchObject({ secretName: 'other-key' });
    // App Service's text for a reference it could not resolve: noted, never taken for a key.
    const unresolved = loadConfig({ ...noKey, AUDIT_HMAC_KEY: '@Microsoft.KeyVault(VaultName=kv;SecretName=audit-hmac-key)' }).service.auditKey;
    expect(unresolved).toEqual({ kind: 'secret', secretName: 'audit-hmac-key', unresolvedReference: true });
    expect(loadConfig(env(doc())).service.auditKey).toEqual({ kind: 'value', key: Buffer.from(HMAC, 'base64') });
    expect(issuesOf({ ...noKey, AUDIT_HMAC_SECRET_NAME: 'bad_name!' })).toEqual([
      'AUDIT_HMAC_SECRET_NAME: must be a Key Vault secret name (1-127 letters, digits and dashes)',
    ]);
  });

  it('uses the local audit connection string when given', () => {
    const config = loadConfig({ VENDING_CONFIG: JSON.stringify(doc()), AUDIT_CONNECTION_STRING: 'UseDevelopmentStorage=true', AUDIT_HMAC_KEY: HMAC });
    expect(config.service.audit).toEqual({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true', tableName: 'vendingaudit' });
  });
});
