import { describe, expect, it } from 'vitest';
import { compilePrincipals, principalMatches } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { freshConfig } from '../support/config-issues';

const TENANT = '11111111-2222-3333-4444-555555555555';
const OTHER = '99999999-8888-7777-6666-555555555555';
const GROUP = 'abcdefab-0000-4000-8000-0000000000aa';
const APP = 'aaaaaaaa-0000-4000-8000-000000000001';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';

function env(overrides: Record<string, unknown>, wsExtra: Record<string, unknown> = {}): Record<string, string> {
  const doc = {
    cloud: 'AzurePublic',
    tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv-vending.vault.azure.net/',
    servicePrincipals: { 'etl-sp': { clientId: APP, secret: 'etl-sp-secret' } },
    workspaces: { 'analytics-prod': { host: 'https://adb-1.7.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'etl-sp', ...wsExtra } },
    grants: [],
    ...overrides,
  };
  return { VENDING_CONFIG: JSON.stringify(doc), AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: Buffer.alloc(32, 7).toString('base64') };
}

function caller(overrides: Partial<CallerIdentity>): CallerIdentity {
  return { tenantId: TENANT, objectId: 'oid-x', appId: 'app-x', roles: [], kind: 'app', name: undefined, ...overrides };
}

describe('owners and admins in the config', () => {
  it('reads owners per workspace, admins, and the API grant bounds with their defaults', async () => {
    const { load: loadConfig } = await freshConfig();
    const config = loadConfig(env({ admins: { roles: ['Vending.Admin'] } }, { owners: { objectIds: [GROUP] } }));
    expect(config.workspaces.get('analytics-prod')?.owners).toEqual({ roles: [], appIds: [], objectIds: [GROUP] });
    expect(config.admins?.roles).toEqual(['Vending.Admin']);
    expect(config.apiGrants).toEqual({ defaultExpiryDays: 90, maxExpiryDays: 365, refreshSeconds: 10, maxStaleSeconds: 300 });
    expect(loadConfig(env({})).admins).toBeUndefined();
  });

  it('lists every problem: empty principals, unknown keys, foreign tenants, bounds out of order', async () => {
    const { issues: issuesOf } = await freshConfig();
    const issues = issuesOf(
      env(
        { admins: { roles: [], tenants: [OTHER] }, apiGrants: { defaultExpiryDays: 400, maxExpiryDays: 365, refreshSeconds: 30 } },
        { owners: { objectIds: ['not-a-guid'], users: [] } },
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'admins: must name at least one role, app id or object id',
        `admins.tenants: "${OTHER}" is not in callers.allowedTenants`,
        'workspaces.analytics-prod.owners.objectIds.0: must be a GUID',
        expect.stringMatching(/^workspaces\.analytics-prod\.owners: Unrecognized key.*users/),
        expect.stringMatching(/^apiGrants\.refreshSeconds: /),
      ]),
    );
    expect(issuesOf(env({ apiGrants: { defaultExpiryDays: 400, maxExpiryDays: 365 } }))).toEqual(['apiGrants: defaultExpiryDays must not exceed maxExpiryDays']);
  });
});

describe('principalMatches (owners, admins)', () => {
  const owners = compilePrincipals({ roles: ['Owner.A'], appIds: [APP.toUpperCase()], objectIds: [GROUP.toUpperCase()] }, TENANT);
  const cases: { name: string; who: Partial<CallerIdentity>; match: boolean }[] = [
    { name: 'a role', who: { roles: ['Owner.A'] }, match: true },
    { name: 'a role from another tenant', who: { roles: ['Owner.A'], tenantId: OTHER }, match: false },
    { name: 'the app acting as itself', who: { appId: APP }, match: true },
    { name: 'a user signed in through that app', who: { appId: APP, kind: 'user' }, match: false },
    { name: 'a member of the owning group', who: { kind: 'user', groups: [GROUP] }, match: true },
    { name: 'the group object id itself', who: { objectId: GROUP }, match: true },
    { name: 'someone else', who: { kind: 'user', groups: ['abcdefab-0000-4000-8000-0000000000bb'] }, match: false },
  ];
  for (const c of cases) it(c.name, () => expect(principalMatches(owners, caller(c.who))).toBe(c.match));
  it('no owners configured: nobody matches', () => expect(principalMatches(compilePrincipals(undefined, TENANT), caller({ roles: ['Owner.A'] }))).toBe(false));
});
