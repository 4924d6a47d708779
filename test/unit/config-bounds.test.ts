import { beforeEach, describe, expect, it } from 'vitest';
import { configDocument, configEnv, freshConfig } from '../support/config-issues';
import type { FreshConfig } from '../support/config-issues';

// Every bound of VENDING_CONFIG at its edge (README "Configuration"): the last value accepted and
// the first refused, each refusal at its path. The schema is built when its module loads, so each
// test loads the config module anew (freshConfig, see loadAnew).

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
const HOST = 'https://adb-1234567890123456.7.azuredatabricks.net';

type Doc = Record<string, unknown>;

let fresh: FreshConfig;
beforeEach(async () => {
  fresh = await freshConfig();
});

/** The paths of the issues a document is refused with; [] when it loads. */
function refusedAt(document: Doc): string[] {
  try {
    fresh.load(configEnv(document));
    return [];
  } catch {
    return fresh.issues(configEnv(document)).map((i) => i.slice(0, i.indexOf(': ')));
  }
}

const grant = (over: Doc = {}): Doc => ({ workspace: 'analytics-prod', callers: { roles: ['Vend.AnalyticsProd'] }, modes: ['aad'], maxLifetimeSeconds: 3600, ...over });
const withGrant = (over: Doc): Doc => configDocument({ grants: [grant(over)] });
const withSp = (sp: Doc): Doc => configDocument({ servicePrincipals: { 'etl-sp': { clientId: SP, ...sp } } });
const withWorkspace = (ws: Doc): Doc => configDocument({ workspaces: { 'analytics-prod': { host: HOST, resourceId: RESOURCE, servicePrincipal: 'etl-sp', ...ws } } });
const named = (name: string): Doc => configDocument({
  servicePrincipals: { [name]: { clientId: SP, secret: 's' } },
  workspaces: { [name]: { host: HOST, resourceId: RESOURCE, servicePrincipal: name } },
  grants: [grant({ workspace: name })],
});
const a = (n: number, ch = 'a'): string => ch.repeat(n);

describe('numeric bounds at their edges', () => {
  it.each([
    ['maxLifetimeSeconds 60', withGrant({ maxLifetimeSeconds: 60 }), []],
    ['maxLifetimeSeconds 59', withGrant({ maxLifetimeSeconds: 59 }), ['grants.0.maxLifetimeSeconds']],
    ['maxLifetimeSeconds 86400 (a day)', withGrant({ maxLifetimeSeconds: 86_400 }), []],
    ['maxLifetimeSeconds 86401', withGrant({ maxLifetimeSeconds: 86_401 }), ['grants.0.maxLifetimeSeconds']],
    ['maxLifetimeSeconds not whole', withGrant({ maxLifetimeSeconds: 60.5 }), ['grants.0.maxLifetimeSeconds']],
    ['maxLivePats 1', withGrant({ maxLivePats: 1 }), []],
    ['maxLivePats 0', withGrant({ maxLivePats: 0 }), ['grants.0.maxLivePats']],
    ['maxLivePats 600 (Databricks per SP and workspace)', withGrant({ maxLivePats: 600 }), []],
    ['maxLivePats 601', withGrant({ maxLivePats: 601 }), ['grants.0.maxLivePats']],
    ['auditors maxSpanDays 1', configDocument({ auditors: { callers: { roles: ['A'] }, maxSpanDays: 1 } }), []],
    ['auditors maxSpanDays 0', configDocument({ auditors: { callers: { roles: ['A'] }, maxSpanDays: 0 } }), ['auditors.maxSpanDays']],
    ['auditors maxSpanDays 366', configDocument({ auditors: { callers: { roles: ['A'] }, maxSpanDays: 366 } }), []],
    ['auditors maxSpanDays 367', configDocument({ auditors: { callers: { roles: ['A'] }, maxSpanDays: 367 } }), ['auditors.maxSpanDays']],
    ['apiGrants expiry days 1', configDocument({ apiGrants: { defaultExpiryDays: 1, maxExpiryDays: 1 } }), []],
    ['apiGrants defaultExpiryDays 0', configDocument({ apiGrants: { defaultExpiryDays: 0 } }), ['apiGrants.defaultExpiryDays']],
    // Out of bounds and below the default: both said.
    ['apiGrants maxExpiryDays 0', configDocument({ apiGrants: { defaultExpiryDays: 1, maxExpiryDays: 0 } }), ['apiGrants.maxExpiryDays', 'apiGrants']],
    ['apiGrants expiry days 3650', configDocument({ apiGrants: { defaultExpiryDays: 3650, maxExpiryDays: 3650 } }), []],
    ['apiGrants defaultExpiryDays 3651', configDocument({ apiGrants: { defaultExpiryDays: 3651, maxExpiryDays: 3650 } }), ['apiGrants.defaultExpiryDays', 'apiGrants']],
    ['apiGrants maxExpiryDays 3651', configDocument({ apiGrants: { maxExpiryDays: 3651 } }), ['apiGrants.maxExpiryDays']],
    ['apiGrants refreshSeconds 1', configDocument({ apiGrants: { refreshSeconds: 1 } }), []],
    ['apiGrants refreshSeconds 0', configDocument({ apiGrants: { refreshSeconds: 0 } }), ['apiGrants.refreshSeconds']],
    ['apiGrants refreshSeconds 11', configDocument({ apiGrants: { refreshSeconds: 11 } }), ['apiGrants.refreshSeconds']],
    ['apiGrants maxStaleSeconds 5', configDocument({ apiGrants: { maxStaleSeconds: 5 } }), []],
    ['apiGrants maxStaleSeconds 4', configDocument({ apiGrants: { maxStaleSeconds: 4 } }), ['apiGrants.maxStaleSeconds']],
    ['apiGrants maxStaleSeconds 86400', configDocument({ apiGrants: { maxStaleSeconds: 86_400 } }), []],
    ['apiGrants maxStaleSeconds 86401', configDocument({ apiGrants: { maxStaleSeconds: 86_401 } }), ['apiGrants.maxStaleSeconds']],
    ['perCallerPerMinute 1', configDocument({ limits: { perCallerPerMinute: 1 } }), []],
    ['perCallerPerMinute 0', configDocument({ limits: { perCallerPerMinute: 0 } }), ['limits.perCallerPerMinute']],
    ['perCallerPerMinute 100000', configDocument({ limits: { perCallerPerMinute: 100_000 } }), []],
    ['perCallerPerMinute 100001', configDocument({ limits: { perCallerPerMinute: 100_001 } }), ['limits.perCallerPerMinute']],
  ])('%s', (_label, document, paths) => {
    expect(refusedAt(document)).toEqual(paths);
  });
});

describe('list and text bounds at their edges', () => {
  const scopes = (n: number): string[] => Array.from({ length: n }, (_, i) => `scope-${i}`);
  it.each([
    ['64 scopes', withGrant({ modes: ['oauth'], scopes: scopes(64) }), []],
    ['65 scopes', withGrant({ modes: ['oauth'], scopes: scopes(65) }), ['grants.0.scopes']],
    ['64 default scopes', withGrant({ modes: ['oauth'], scopes: ['all-apis'], defaultScopes: scopes(64) }), []],
    ['65 default scopes', withGrant({ modes: ['oauth'], scopes: ['all-apis'], defaultScopes: scopes(65) }), ['grants.0.defaultScopes']],
    // A scope longer than 100 characters is refused for its length too, before its syntax is looked at.
    ['a scope of 101 characters', withGrant({ modes: ['oauth'], scopes: [a(101)] }), ['grants.0.scopes.0', 'grants.0.scopes.0']],
    ['no modes', withGrant({ modes: [] }), ['grants.0.modes']],
    ['an unknown mode', withGrant({ modes: ['aad', 'root'] }), ['grants.0.modes.1']],
    ['every mode', configDocument({ grants: [grant({ modes: ['aad', 'pat', 'oauth', 'user'], scopes: ['sql'] })], onBehalfOf: { clientId: SP } }), []],
    ['a grant naming no tenant', withGrant({ tenants: [] }), ['grants.0.tenants']],
    ['admins naming no tenant', configDocument({ admins: { roles: ['A'], tenants: [] } }), ['admins.tenants']],
    ['auditors naming no tenant', configDocument({ auditors: { tenants: [], callers: { roles: ['A'] } } }), ['auditors.tenants']],
    ['a role of 120 characters', withGrant({ callers: { roles: [a(120)] } }), []],
    ['a role of 121 characters', withGrant({ callers: { roles: [a(121)] } }), ['grants.0.callers.roles.0']],
    ['an empty role', withGrant({ callers: { roles: [''] } }), ['grants.0.callers.roles.0']],
    ['no audience', configDocument({ callers: { audiences: [], allowedTenants: [TENANT] } }), ['callers.audiences']],
    ['an empty audience', configDocument({ callers: { audiences: [''], allowedTenants: [TENANT] } }), ['callers.audiences.0']],
    ['no allowed tenant', configDocument({ callers: { audiences: ['api://x'], allowedTenants: [] } }), ['callers.allowedTenants']],
    ['a federation audience of 200 characters', withSp({ federated: true, federationAudience: a(200) }), []],
    ['a federation audience of 201 characters', withSp({ federated: true, federationAudience: a(201) }), ['servicePrincipals.etl-sp.federationAudience']],
    ['an empty federation audience', withSp({ federated: true, federationAudience: '' }), ['servicePrincipals.etl-sp.federationAudience', 'servicePrincipals.etl-sp.federationAudience']],
    ['a secret name of 127 characters', withSp({ secret: a(127, 'k') }), []],
    ['a secret name of 128 characters', withSp({ secret: a(128, 'k') }), ['servicePrincipals.etl-sp.secret']],
    ['an empty secret name', withSp({ secret: '' }), ['servicePrincipals.etl-sp.secret']],
    ['a certificate name of 128 characters', withSp({ certificate: a(128, 'k') }), ['servicePrincipals.etl-sp.certificate']],
    ['federated other than true', withSp({ federated: false }), ['servicePrincipals.etl-sp.federated']],
    ['a name of 64 characters', named(`A${a(63, '9')}`), []],
    ['a name of 65 characters', named(a(65)), [`servicePrincipals.${a(65)}`, `workspaces.${a(65)}`, 'grants.0.workspace']],
  ])('%s', (_label, document, paths) => {
    expect(refusedAt(document)).toEqual(paths);
  });
});

describe('the spelling of ids, names and URLs', () => {
  const GUID_RULE = 'must be a GUID';
  it('takes a GUID in either case, and nothing around or short of one', () => {
    expect(refusedAt(configDocument({ tenantId: TENANT.toUpperCase().replace('1', 'A') }))).toEqual([]);
    for (const bad of [`x${TENANT}`, `${TENANT}x`, TENANT.slice(1), TENANT.replace('-2222', '2222'), TENANT.replace('1111', 'g111')]) {
      expect(fresh.issues(configEnv(configDocument({ tenantId: bad })))).toEqual([`tenantId: ${GUID_RULE}`]);
    }
    expect(fresh.issues(configEnv(configDocument({ onBehalfOf: { clientId: 'app' } })))).toEqual([`onBehalfOf.clientId: ${GUID_RULE}`]);
    expect(refusedAt(withGrant({ callers: { usersViaAppIds: ['app'] } }))).toEqual(['grants.0.callers.usersViaAppIds.0']);
  });

  it('takes names of letters, digits, dots, dashes and underscores, starting with a letter or digit', () => {
    const rule = 'must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit';
    expect(refusedAt(named('9a.b_c-D'))).toEqual([]);
    for (const bad of ['.hidden', '-dash', '_under', 'a b', 'ä', '']) {
      expect(fresh.issues(configEnv(named(bad))), bad).toEqual([
        `servicePrincipals.${bad}: Invalid key in record`,
        `workspaces.${bad}: Invalid key in record`,
        `grants.0.workspace: ${rule}`,
      ]);
    }
    expect(fresh.issues(configEnv(withWorkspace({ servicePrincipal: '.etl' })))).toEqual([`workspaces.analytics-prod.servicePrincipal: ${rule}`, 'workspaces.analytics-prod.servicePrincipal: no service principal named ".etl"']);
  });

  it('takes Key Vault object names of letters, digits and dashes only', () => {
    const rule = 'must be a Key Vault object name (1-127 of [A-Za-z0-9-])';
    expect(refusedAt(withSp({ certificate: 'Etl-Cert-01' }))).toEqual([]);
    for (const bad of ['etl_cert', 'etl.cert', ' etl']) {
      expect(fresh.issues(configEnv(withSp({ certificate: bad }))), bad).toEqual([`servicePrincipals.etl-sp.certificate: ${rule}`]);
    }
  });

  it('takes a federation audience without spaces', () => {
    expect(fresh.issues(configEnv(withSp({ federated: true, federationAudience: 'api://x y' })))).toEqual(['servicePrincipals.etl-sp.federationAudience: must not contain spaces']);
  });

  it('takes https URLs only, for the vault and the workspaces', () => {
    for (const bad of ['http://kv.vault.azure.net', 'httpss://kv.vault.azure.net', 'xhttps://kv.vault.azure.net', 'not a url']) {
      expect(fresh.issues(configEnv(configDocument({ keyVaultUrl: bad }))), bad).toEqual(['keyVaultUrl: must be an https URL']);
    }
    expect(refusedAt(withWorkspace({ host: 'http://adb-1.2.azuredatabricks.net' }))).toEqual(['workspaces.analytics-prod.host']);
  });

  it('takes a Databricks workspace resource id, in any case, and nothing around it', () => {
    const rule = 'must be a Databricks workspace resource id (/subscriptions/…/providers/Microsoft.Databricks/workspaces/…)';
    expect(refusedAt(withWorkspace({ resourceId: RESOURCE.toLowerCase() }))).toEqual([]);
    const bad = [`x${RESOURCE}`, `${RESOURCE}/x`, RESOURCE.replace('Databricks', 'Storage'), RESOURCE.replace('33333333-', '3333333-'), RESOURCE.replace('/rg/', '//')];
    for (const id of bad) expect(fresh.issues(configEnv(withWorkspace({ resourceId: id }))), id).toEqual([`workspaces.analytics-prod.resourceId: ${rule}`]);
  });

  it('takes only the three clouds by name', () => {
    expect(refusedAt(configDocument({ cloud: 'azurepublic' }))).toEqual(['cloud']);
  });

  it('refuses a key it does not know anywhere, rather than ignoring it', () => {
    expect(refusedAt(withSp({ secret: 's', extra: 1 }))).toEqual(['servicePrincipals.etl-sp']);
    expect(refusedAt(withWorkspace({ extra: 1 }))).toEqual(['workspaces.analytics-prod']);
    expect(refusedAt(withGrant({ callers: { roles: ['R'], extra: 1 } }))).toEqual(['grants.0.callers']);
    expect(refusedAt(configDocument({ auditors: { callers: { roles: ['A'], usersViaAppIds: [SP] } } }))).toEqual(['auditors.callers']);
    expect(refusedAt(configDocument({ admins: { roles: ['A'], extra: 1 } }))).toEqual(['admins']);
    expect(refusedAt(configDocument({ apiGrants: { extra: 1 } }))).toEqual(['apiGrants']);
    expect(refusedAt(configDocument({ limits: { perCallerPerMinute: 5, extra: 1 } }))).toEqual(['limits']);
    expect(refusedAt(configDocument({ onBehalfOf: { clientId: SP, extra: 1 } }))).toEqual(['onBehalfOf']);
    expect(refusedAt(configDocument({ callers: { audiences: ['a'], allowedTenants: [TENANT], extra: 1 } }))).toEqual(['callers']);
    expect(refusedAt(configDocument({ extra: 1 }))).toEqual(['(document)']);
  });
});

describe('defaults the service runs with', () => {
  it('fills each API grant setting on its own when the others are given', () => {
    const config = fresh.load(configEnv(configDocument({ apiGrants: { refreshSeconds: 3 } })));
    expect(config.apiGrants).toEqual({ defaultExpiryDays: 90, maxExpiryDays: 365, refreshSeconds: 3, maxStaleSeconds: 300 });
    expect(fresh.load(configEnv(configDocument({ apiGrants: { defaultExpiryDays: 7 } }))).apiGrants).toEqual({ defaultExpiryDays: 7, maxExpiryDays: 365, refreshSeconds: 10, maxStaleSeconds: 300 });
  });

  it('leaves a grant without a live PAT cap, scopes or tenants of its own, and admits no management token', () => {
    const g = fresh.load(configEnv(configDocument())).grants[0];
    expect(g).toEqual({ workspace: 'analytics-prod', callers: { roles: ['Vend.AnalyticsProd'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false });
  });

  it('keeps management tokens off unless a grant says true', () => {
    expect(fresh.load(configEnv(withGrant({ managementToken: true }))).grants[0]?.managementToken).toBe(true);
    expect(refusedAt(withGrant({ managementToken: 'yes' }))).toEqual(['grants.0.managementToken']);
  });

  it('fills owners\' and auditors\' principal lists with empty ones', () => {
    const ws = fresh.load(configEnv(withWorkspace({ owners: { objectIds: [SP] } }))).workspaces.get('analytics-prod');
    expect(ws?.owners).toEqual({ roles: [], appIds: [], objectIds: [SP] });
    expect(fresh.load(configEnv(configDocument({ auditors: { callers: { appIds: [SP] } } }))).auditors?.callers).toEqual({ roles: [], appIds: [SP], objectIds: [] });
  });
});
