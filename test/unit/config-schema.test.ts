import { beforeEach, describe, expect, it } from 'vitest';
import type { VendingConfig } from '../../src/core/config';
import { configDocument, configEnv, freshConfig } from '../support/config-issues';
import type { FreshConfig } from '../support/config-issues';

// The rules of VENDING_CONFIG an operator relies on (README "Configuration"): each bound, each
// cross-field rule and its message, and the defaults the service runs with. The schema is built
// when its module loads: each test loads the config module anew (freshConfig, see loadAnew).

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER_TENANT = '99999999-8888-7777-6666-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const APP = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const HOST = 'https://adb-1234567890123456.7.azuredatabricks.net';

type Doc = Record<string, unknown>;

function grant(over: Doc = {}): Doc {
  return { workspace: 'analytics-prod', callers: { roles: ['Vend.AnalyticsProd'] }, modes: ['aad'], maxLifetimeSeconds: 3600, ...over };
}

const doc = configDocument;

const env = configEnv;

let fresh: FreshConfig;
beforeEach(async () => {
  fresh = await freshConfig();
});

function load(document: Doc, extra: Record<string, string> = {}): VendingConfig {
  return fresh.load(env(document, extra));
}

function issuesOf(document: unknown, extra: Record<string, string> = {}): readonly string[] {
  return fresh.issues(env(document, extra));
}

describe('service principals', () => {
  it('need exactly one credential: a secret, a certificate or federated', () => {
    const sp = (credential: Doc): Doc => doc({ servicePrincipals: { 'etl-sp': { clientId: SP, ...credential } } });
    expect(load(sp({ certificate: 'etl-cert' })).workspaces.get('analytics-prod')?.servicePrincipal.credential).toEqual({ kind: 'certificate', name: 'etl-cert' });
    expect(load(sp({ federated: true })).workspaces.get('analytics-prod')?.servicePrincipal.credential).toEqual({ kind: 'federated' });
    const rule = 'servicePrincipals.etl-sp: must have exactly one credential: secret, certificate or federated: true';
    expect(issuesOf(sp({}))).toEqual([rule]);
    expect(issuesOf(sp({ secret: 's', federated: true }))).toEqual([rule]);
    expect(issuesOf(sp({ certificate: 'c', federated: true }))).toEqual([rule]);
  });

  it('take the federation audience for mode oauth, default the AzureDatabricks app', () => {
    const withAudience = doc({ servicePrincipals: { 'etl-sp': { clientId: SP, federated: true, federationAudience: 'api://AzureADTokenExchange/' } } });
    expect(load(withAudience).workspaces.get('analytics-prod')?.servicePrincipal.federationScope).toBe('api://AzureADTokenExchange/.default');
    expect(load(doc()).workspaces.get('analytics-prod')?.servicePrincipal.federationScope).toBe('2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default');
    // DATABRICKS_RESOURCE_ID (local sandboxes) moves both the Databricks scope and the default federation audience.
    const local = load(doc(), { DATABRICKS_RESOURCE_ID: 'api://local-dbx' });
    expect(local.databricksScope).toBe('api://local-dbx/.default');
    expect(local.workspaces.get('analytics-prod')?.servicePrincipal).toMatchObject({ name: 'etl-sp', clientId: SP, federationScope: 'api://local-dbx/.default' });
  });
});

describe('principal lists', () => {
  it('name at least one role, app id or object id (admins, owners, auditors)', () => {
    const rule = 'must name at least one role, app id or object id';
    expect(issuesOf(doc({ admins: {} }))).toEqual([`admins: ${rule}`]);
    expect(issuesOf(doc({ admins: { roles: [], tenants: [TENANT] } }))).toEqual([`admins: ${rule}`]);
    expect(load(doc({ admins: { roles: ['Vend.Admin'] } })).admins).toEqual({ roles: ['Vend.Admin'], appIds: [], objectIds: [] });
    expect(load(doc({ admins: { appIds: [APP] } })).admins?.appIds).toEqual([APP]);
    expect(load(doc({ admins: { objectIds: [APP] } })).admins?.objectIds).toEqual([APP]);
    const owners = (o: Doc): Doc => doc({ workspaces: { 'analytics-prod': { host: HOST, resourceId: RESOURCE, servicePrincipal: 'etl-sp', owners: o } } });
    expect(issuesOf(owners({ appIds: [] }))).toEqual([`workspaces.analytics-prod.owners: ${rule}`]);
    expect(load(owners({ objectIds: [APP] })).workspaces.get('analytics-prod')?.owners?.objectIds).toEqual([APP]);
    expect(issuesOf(doc({ auditors: { callers: {} } }))).toEqual([`auditors.callers: ${rule}`]);
  });

  it('let admins, owners and auditors name other tenants only from callers.allowedTenants', () => {
    const callers = { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT, OTHER_TENANT] };
    const named = { roles: ['R'], tenants: [OTHER_TENANT] };
    expect(load(doc({ callers, admins: named })).admins?.tenants).toEqual([OTHER_TENANT]);
    expect(issuesOf(doc({ admins: named }))).toEqual([`admins.tenants: "${OTHER_TENANT}" is not in callers.allowedTenants`]);
    expect(issuesOf(doc({ auditors: { tenants: [OTHER_TENANT], callers: { roles: ['A'] } } }))).toEqual([`auditors.tenants: "${OTHER_TENANT}" is not in callers.allowedTenants`]);
    const owners = doc({ workspaces: { 'analytics-prod': { host: HOST, resourceId: RESOURCE, servicePrincipal: 'etl-sp', owners: named } } });
    expect(issuesOf(owners)).toEqual([`workspaces.analytics-prod.owners.tenants: "${OTHER_TENANT}" is not in callers.allowedTenants`]);
  });
});

describe('grants', () => {
  it('name at least one caller; usersViaAppIds alone is enough', () => {
    expect(issuesOf(doc({ grants: [grant({ callers: {} })] }))).toEqual(['grants.0.callers: must name at least one role, app id, object id or usersViaAppIds entry']);
    expect(issuesOf(doc({ grants: [grant({ callers: { usersViaAppIds: [] } })] }))).toHaveLength(1);
    expect(load(doc({ grants: [grant({ callers: { usersViaAppIds: [APP] } })] })).grants[0]?.callers).toEqual({ roles: [], appIds: [], objectIds: [], usersViaAppIds: [APP] });
    expect(load(doc({ grants: [grant({ callers: { appIds: [APP] } })] })).grants[0]?.callers.appIds).toEqual([APP]);
    expect(load(doc({ grants: [grant({ callers: { objectIds: [APP] } })] })).grants[0]?.callers.objectIds).toEqual([APP]);
  });

  it('need the scopes a caller may ask for with mode oauth, and defaults within them', () => {
    expect(issuesOf(doc({ grants: [grant({ modes: ['oauth'] })] }))).toEqual(['grants.0.scopes: mode oauth needs the scopes a caller may ask for']);
    expect(issuesOf(doc({ grants: [grant({ modes: ['oauth'], scopes: [] })] }))).toEqual(['grants.0.scopes: mode oauth needs the scopes a caller may ask for']);
    const ok = load(doc({ grants: [grant({ modes: ['oauth'], scopes: ['sql', 'clusters:read'], defaultScopes: ['sql:read', 'clusters:read'] })] }));
    expect(ok.grants[0]?.defaultScopes).toEqual(['sql:read', 'clusters:read']);
    expect(issuesOf(doc({ grants: [grant({ modes: ['oauth'], scopes: ['clusters:read'], defaultScopes: ['clusters', 'sql'] })] }))).toEqual([
      'grants.0.defaultScopes: default scope "clusters" is not within the grant\'s scopes',
      'grants.0.defaultScopes: default scope "sql" is not within the grant\'s scopes',
    ]);
    // Without scopes, no default can be within them (mode pat takes scopes only when set).
    expect(issuesOf(doc({ grants: [grant({ modes: ['pat'], defaultScopes: ['sql'] })] }))).toEqual(['grants.0.defaultScopes: default scope "sql" is not within the grant\'s scopes']);
  });

  it('take only Databricks API scope syntax', () => {
    const issues = issuesOf(doc({ grants: [grant({ modes: ['oauth'], scopes: ['sql', 'Clusters'] })] }));
    expect(issues).toEqual(['grants.0.scopes.1: "Clusters" is not a Databricks API scope (lower-case name, optional :read or :restricted-query)']);
  });

  it('need a mode user grant to come with the on-behalf-of client', () => {
    expect(issuesOf(doc({ grants: [grant({ modes: ['user'] })] }))).toEqual(['grants.0.modes: mode user needs onBehalfOf.clientId (the vending API app registration)']);
    const config = load(doc({ grants: [grant({ modes: ['user'] })], onBehalfOf: { clientId: APP.toUpperCase() } }));
    expect(config.onBehalfOfClientId).toBe(APP);
    expect(load(doc()).onBehalfOfClientId).toBeUndefined();
  });

  it('default managementToken to false', () => {
    expect(load(doc()).grants[0]).toMatchObject({ managementToken: false, modes: ['aad'], maxLifetimeSeconds: 3600 });
  });
});

describe('API grant settings, auditors and limits', () => {
  it('default to 90/365 days, a 10 s refresh and 300 s of staleness', () => {
    expect(load(doc()).apiGrants).toEqual({ defaultExpiryDays: 90, maxExpiryDays: 365, refreshSeconds: 10, maxStaleSeconds: 300 });
    expect(load(doc({ apiGrants: { maxExpiryDays: 30, defaultExpiryDays: 30 } })).apiGrants).toEqual({ defaultExpiryDays: 30, maxExpiryDays: 30, refreshSeconds: 10, maxStaleSeconds: 300 });
  });

  it('never let the default expiry exceed the maximum', () => {
    expect(issuesOf(doc({ apiGrants: { defaultExpiryDays: 31, maxExpiryDays: 30 } }))).toEqual(['apiGrants: defaultExpiryDays must not exceed maxExpiryDays']);
    expect(issuesOf(doc({ apiGrants: { maxExpiryDays: 30 } }))).toEqual(['apiGrants: defaultExpiryDays must not exceed maxExpiryDays']);
  });

  it('give auditors a 31-day span by default, and no one the audit trail when absent', () => {
    expect(load(doc({ auditors: { callers: { roles: ['Vend.Auditor'] } } })).auditors).toEqual({ callers: { roles: ['Vend.Auditor'], appIds: [], objectIds: [] }, maxSpanDays: 31 });
    expect(load(doc()).auditors).toBeUndefined();
    expect(load(doc()).admins).toBeUndefined();
  });

  it('limit each caller to 120 tokens a minute unless configured', () => {
    expect(load(doc()).perCallerPerMinute).toBe(120);
    expect(load(doc({ limits: { perCallerPerMinute: 7 } })).perCallerPerMinute).toBe(7);
  });
});

describe('the loaded configuration', () => {
  it('normalizes tenant ids to lower case and keeps audiences and grants as written', () => {
    const config = load(doc({ tenantId: TENANT.toUpperCase(), callers: { audiences: ['api://a', 'b'], allowedTenants: [TENANT.toUpperCase()] } }));
    expect(config.tenantId).toBe(TENANT);
    expect(config.allowedTenants).toEqual([TENANT]);
    expect(config.audiences).toEqual(['api://a', 'b']);
    expect(config.cloud).toBe('AzurePublic');
    expect(config.v1IssuerBase).toBe('https://sts.windows.net/');
    expect(config.v2IssuerHost).toBe('https://login.microsoftonline.com');
  });

  it('keeps a workspace host as its origin and the resource id as given', () => {
    const ws = load(doc({ workspaces: { 'analytics-prod': { host: `${HOST}/`, resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } })).workspaces.get('analytics-prod');
    expect(ws).toMatchObject({ name: 'analytics-prod', host: HOST, resourceId: RESOURCE });
    expect(ws?.owners).toBeUndefined();
  });

  it('lets a local management scope override the cloud one', () => {
    expect(load(doc(), { AZURE_MANAGEMENT_SCOPE: 'https://mgmt.local/.default' }).managementScope).toBe('https://mgmt.local/.default');
    expect(load(doc(), { AZURE_MANAGEMENT_SCOPE: '' }).managementScope).toBe('https://management.core.windows.net//.default');
  });

  it('keeps the cloud issuer host when the authority host names the cloud authority itself', () => {
    const config = load(doc({ cloud: 'AzureChina', workspaces: { 'analytics-prod': { host: 'https://adb-1.2.databricks.azure.cn', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } }), {
      AZURE_AUTHORITY_HOST: 'https://login.chinacloudapi.cn//',
    });
    expect(config.authorityHost).toBe('https://login.chinacloudapi.cn');
    expect(config.v2IssuerHost).toBe('https://login.partner.microsoftonline.cn');
  });

  it('is frozen all the way down, Maps included', () => {
    const config = load(doc({ admins: { roles: ['A'] } }));
    const ws = config.workspaces.get('analytics-prod');
    expect(Object.isFrozen(ws)).toBe(true);
    expect(Object.isFrozen(ws?.servicePrincipal)).toBe(true);
    expect(Object.isFrozen(ws?.servicePrincipal.credential)).toBe(true);
    expect(Object.isFrozen(config.admins?.roles)).toBe(true);
    expect(Object.isFrozen(config.service.audit)).toBe(true);
    expect(Object.isFrozen(config.workspaces)).toBe(true);
    expect(Buffer.isBuffer((config.service.auditKey as { key: Buffer }).key)).toBe(true);
  });
});

describe('workspace hosts and references', () => {
  it('refuse a host of another cloud and anything beyond the origin', () => {
    const ws = (host: string): Doc => doc({ workspaces: { 'analytics-prod': { host, resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    expect(issuesOf(ws('https://adb-1.2.databricks.azure.us'))).toEqual(['workspaces.analytics-prod.host: must be a workspace host ending in .azuredatabricks.net for cloud AzurePublic']);
    const origin = 'workspaces.analytics-prod.host: must be an origin only (https://adb-….azuredatabricks.net)';
    expect(issuesOf(ws(`${HOST}/?o=1`))).toEqual([origin]);
    expect(issuesOf(ws(`${HOST}/#x`))).toEqual([origin]);
    expect(issuesOf(ws('https://user@adb-1.2.azuredatabricks.net'))).toEqual([origin]);
    // localhost counts as loopback too, with the local switch only.
    expect(load(ws('https://localhost:8443'), { VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on' }).workspaces.get('analytics-prod')?.host).toBe('https://localhost:8443');
    expect(issuesOf(ws('https://localhost:8443'))).toHaveLength(1);
    expect(issuesOf(ws('https://10.0.0.1:8443'), { VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on' })).toHaveLength(1);
  });

  it('are still checked when the document fails the schema, so one run lists every problem', () => {
    const bad = doc({ tenantId: 'x', grants: [grant({ workspace: 'nowhere' })] });
    expect(issuesOf(bad)).toEqual(['tenantId: must be a GUID', 'grants.0.workspace: no workspace named "nowhere"']);
    // With an unknown cloud, the host suffix cannot be checked; the origin rule still is.
    const unknownCloud = issuesOf(doc({ cloud: 'Mars', workspaces: { 'analytics-prod': { host: `${HOST}/x`, resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } }));
    expect(unknownCloud).toContain('workspaces.analytics-prod.host: must be an origin only (https://adb-….azuredatabricks.net)');
    expect(unknownCloud.some((i) => i.includes('must be a workspace host ending'))).toBe(false);
  });

  it('survive documents of the wrong shape with one issue each, never a crash', () => {
    expect(issuesOf([])).toEqual(['(document): Invalid input: expected object, received array']);
    expect(issuesOf('text')).toEqual(['(document): Invalid input: expected object, received string']);
    const odd = issuesOf(doc({ servicePrincipals: [], workspaces: { w: 5 }, grants: [5], callers: { audiences: ['a'], allowedTenants: 'x' } }));
    expect(odd.length).toBeGreaterThan(0);
    expect(odd.every((i) => !i.includes('no service principal named'))).toBe(true);
  });
});

describe('edge shapes and spellings', () => {
  const LETTERS = 'abcdef01-2345-6789-abcd-ef0123456789';

  it('compares and stores tenant ids without regard to case', () => {
    const callers = { audiences: ['api://x'], allowedTenants: [LETTERS.toUpperCase(), OTHER_TENANT] };
    const config = load(doc({ tenantId: LETTERS.toUpperCase(), callers, grants: [grant({ tenants: [LETTERS] })], admins: { roles: ['A'], tenants: [LETTERS.toUpperCase()] } }));
    expect(config.tenantId).toBe(LETTERS);
    expect(config.allowedTenants).toEqual([LETTERS, OTHER_TENANT]);
    const lower = { audiences: ['api://x'], allowedTenants: [LETTERS] };
    expect(load(doc({ callers: lower, grants: [grant({ tenants: [LETTERS.toUpperCase()] })] })).grants[0]?.tenants).toEqual([LETTERS.toUpperCase()]);
  });

  it('strips every trailing slash of the vault URL and the federation audience', () => {
    const config = load(doc({ keyVaultUrl: 'https://kv-vending.vault.azure.net//', servicePrincipals: { 'etl-sp': { clientId: SP, federated: true, federationAudience: 'api://AzureADTokenExchange//' } } }));
    expect(config.keyVaultUrl).toBe('https://kv-vending.vault.azure.net');
    expect(config.workspaces.get('analytics-prod')?.servicePrincipal.federationScope).toBe('api://AzureADTokenExchange/.default');
  });

  it('takes only an https origin as the authority host', () => {
    const rule = 'AZURE_AUTHORITY_HOST: must be an https origin (MSAL refuses anything else)';
    expect(issuesOf(doc(), { AZURE_AUTHORITY_HOST: 'https://login.example.test/tenant' })).toEqual([rule]);
    expect(issuesOf(doc(), { AZURE_AUTHORITY_HOST: 'xhttps://login.example.test' })).toEqual([rule]);
  });

  it('checks loopback hosts against the switch even when other settings are broken', () => {
    const loopback = doc({ workspaces: { 'analytics-prod': { host: 'https://127.0.0.1:8443', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } } });
    expect(issuesOf(loopback, { AUDIT_TABLE_ENDPOINT: '' })).toEqual([
      'AUDIT_TABLE_ENDPOINT: missing (no audit sink, no tokens)',
      'workspaces.analytics-prod.host: must be a workspace host ending in .azuredatabricks.net for cloud AzurePublic',
    ]);
  });

  it('checks references only on values of the right type, never crashing on null or odd shapes', () => {
    const none = (list: readonly string[], text: string): void => expect(list.filter((i) => i.includes(text))).toEqual([]);
    expect(issuesOf(null)).toEqual(['(document): Invalid input: expected object, received null']);
    const nulls = issuesOf(doc({ workspaces: { w: null }, grants: [null] }));
    expect(nulls).toEqual(expect.arrayContaining([expect.stringMatching(/^workspaces\.w: /), expect.stringMatching(/^grants\.0: /)]));
    // A workspace without a service principal or with an unparsable host, a grant without a workspace: schema issues only.
    const missing = issuesOf(doc({ workspaces: { w: { host: 'not a url', resourceId: RESOURCE } }, grants: [{ callers: { roles: ['R'] }, modes: ['aad'], maxLifetimeSeconds: 600 }] }));
    expect(missing).toEqual(expect.arrayContaining(['workspaces.w.servicePrincipal: required (string)', 'workspaces.w.host: must be an https URL', 'grants.0.workspace: required (string)']));
    none(missing, 'no service principal named');
    none(missing, 'no workspace named');
    // Workspaces given as a list are a schema issue, not a set of names to resolve.
    none(issuesOf(doc({ workspaces: [{ host: HOST, resourceId: RESOURCE, servicePrincipal: 'ghost' }] })), 'no service principal named');
    // A tenant that is not a string is a schema issue only.
    const odd = issuesOf(doc({ grants: [grant({ tenants: [5] })] }));
    expect(odd).toEqual(['grants.0.tenants.0: Invalid input: expected string, received number']);
  });

  it('knows only its own clouds, never an inherited name', () => {
    const ws = { 'analytics-prod': { host: 'https://adb-1.2.example.test', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } };
    for (const cloud of ['constructor', ['AzurePublic']]) {
      const issues = issuesOf(doc({ cloud, workspaces: ws }));
      expect(issues).toEqual([expect.stringMatching(/^cloud: /)]);
    }
  });

  it('lets auditors be named by app id or object id alone', () => {
    expect(load(doc({ auditors: { callers: { appIds: [APP] } } })).auditors?.callers.appIds).toEqual([APP]);
    expect(load(doc({ auditors: { callers: { objectIds: [APP] }, maxSpanDays: 7 } })).auditors).toMatchObject({ maxSpanDays: 7, callers: { objectIds: [APP] } });
  });
});
