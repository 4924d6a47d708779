import { describe, expect, it } from 'vitest';
import { authorize, callerMatches, compileGrants, entitlementsOf } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';

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
