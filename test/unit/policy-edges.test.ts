import { describe, expect, it } from 'vitest';
import { authorize, callerMatches, compileGrants, entitlementsOf } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { loadAnew } from '../support/load-anew';

const APP = 'aaaaaaaa-0000-0000-0000-00000000000a';
const OID = 'bbbbbbbb-0000-0000-0000-00000000000b';
const grants = compileGrants([
  { workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false },
  { workspace: 'prod', callers: { roles: [], appIds: [APP.toUpperCase()], objectIds: [] }, modes: ['aad', 'pat'], maxLifetimeSeconds: 900, managementToken: true },
  { workspace: 'dev', callers: { roles: [], appIds: [], objectIds: [OID.toUpperCase()] }, modes: ['pat'], maxLifetimeSeconds: 7200, managementToken: false },
  { workspace: 'dev', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 60, managementToken: false },
], 't');
const who = (o: Partial<CallerIdentity>): CallerIdentity => ({ tenantId: 't', objectId: 'o', appId: 'a', roles: [], kind: 'app', name: undefined, ...o });

describe('policy edges', () => {
  it('compares app and object ids without case, on both sides; roles exactly', () => {
    const [, byApp, byOid] = grants.all;
    expect(callerMatches(byApp, who({ appId: APP.toUpperCase() }))).toBe(true);
    expect(callerMatches(byOid, who({ objectId: OID.toUpperCase() }))).toBe(true);
    expect(callerMatches(byOid, who({ objectId: OID }))).toBe(true);
    expect(callerMatches(grants.all[0], who({ roles: ['Other', 'Vend.Prod'] }))).toBe(true);
    expect(callerMatches(grants.all[0], who({ roles: ['Vend.Prod '] }))).toBe(false);
    expect(callerMatches(byApp, who({ objectId: APP }))).toBe(false);
  });

  it('with the management token, only the grants that allow it count toward the entitlement', () => {
    const c = who({ appId: APP, roles: ['Vend.Prod'] });
    expect(authorize(grants, c, { workspace: 'prod', mode: 'aad', managementToken: true })).toMatchObject({ workspace: 'prod', modes: new Set(['aad', 'pat']), maxLifetimeSeconds: 900, managementToken: true });
    expect(authorize(grants, c, { workspace: 'prod', mode: 'aad', managementToken: false })).toMatchObject({ workspace: 'prod', modes: new Set(['aad', 'pat']), maxLifetimeSeconds: 3600, managementToken: true });
  });

  it('only the grants that allow the mode count toward the entitlement', () => {
    const c = who({ objectId: OID, roles: ['Vend.Prod'] });
    expect(authorize(grants, c, { workspace: 'dev', mode: 'pat', managementToken: false })).toMatchObject({ workspace: 'dev', modes: new Set(['pat']), maxLifetimeSeconds: 7200, managementToken: false });
    expect(authorize(grants, c, { workspace: 'dev', mode: 'aad', managementToken: false })).toMatchObject({ workspace: 'dev', modes: new Set(['aad']), maxLifetimeSeconds: 60, managementToken: false });
  });

  it('the refusals name the workspace and what was missing, never the grants', () => {
    expect(() => authorize(grants, who({}), { workspace: 'x', mode: 'aad', managementToken: false })).toThrow('Not granted, or no such workspace: "x".');
    expect(() => authorize(grants, who({ roles: ['Vend.Prod'] }), { workspace: 'prod', mode: 'pat', managementToken: false })).toThrow(`This caller's grant for "prod" does not allow mode "pat".`);
    expect(() => authorize(grants, who({ roles: ['Vend.Prod'] }), { workspace: 'prod', mode: 'aad', managementToken: true })).toThrow(`This caller's grant for "prod" does not allow the management token.`);
  });

  it('lists every workspace with its grants merged, in grant order', () => {
    const list = entitlementsOf(grants, who({ appId: APP, objectId: OID, roles: ['Vend.Prod'] }));
    expect(list).toMatchObject([
      { workspace: 'prod', modes: new Set(['aad', 'pat']), maxLifetimeSeconds: 3600, managementToken: true },
      { workspace: 'dev', modes: new Set(['pat', 'aad']), maxLifetimeSeconds: 7200, managementToken: false },
    ]);
  });

  it('compiled grants are frozen', () => {
    expect(Object.isFrozen(grants)).toBe(true);
    expect(Object.isFrozen(grants.all[0])).toBe(true);
    expect([...grants.all[1].appIds]).toEqual([APP]);
  });
});

describe('policy values built when the module loads', () => {
  // Loaded anew, so these constants are built inside the test (see loadAnew).
  it('no principals configured (no admins, no owners): nobody matches, in any tenant', async () => {
    const { compilePrincipals, principalMatches, NOBODY } = await loadAnew(() => import('../../src/core/policy/index.js'));
    const none = compilePrincipals(undefined, 't');
    expect(none).toBe(NOBODY);
    for (const caller of [who({ roles: ['Vend.Prod'] }), who({ appId: APP }), who({ objectId: OID, kind: 'user' }), who({ tenantId: 'other' })]) {
      expect(principalMatches(none, caller)).toBe(false);
    }
    expect({ tenants: [...NOBODY.tenants], roles: [...NOBODY.roles], appIds: [...NOBODY.appIds], objectIds: [...NOBODY.objectIds] }).toEqual({ tenants: [], roles: [], appIds: [], objectIds: [] });
  });

  it('a workspace without grants has none to offer: no grant and no candidate', async () => {
    const fresh = await loadAnew(() => import('../../src/core/policy/index.js'));
    const set = fresh.compileGrants([{ workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false }], 't');
    expect(set.forWorkspace('elsewhere')).toEqual([]);
    expect(set.candidates('elsewhere', { roles: ['Vend.Prod'], appId: APP, objectId: OID })).toEqual([]);
    expect(set.forWorkspace('prod')).toHaveLength(1);
  });

  it('the system clock tells the wall-clock time in epoch milliseconds', async () => {
    const { systemClock } = await loadAnew(() => import('../../src/core/policy/index.js'));
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
