import { describe, expect, it } from 'vitest';
import { authorize, compileGrants, entitlementsOf, notGranted, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { NotGrantedError, RateLimitedError } from '../../src/core/errors';

const HOME = 'c0c0c0c0-0000-4000-8000-000000000001';
const PARTNER = 'd0d0d0d0-0000-4000-8000-000000000002';
const APP_A = 'aaaaaaaa-0000-0000-0000-000000000001';
const OID_B = 'bbbbbbbb-0000-0000-0000-000000000002';

const grants = compileGrants([
  { workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false },
  { workspace: 'prod', callers: { roles: [], appIds: [APP_A.toUpperCase()], objectIds: [] }, modes: ['aad', 'pat'], maxLifetimeSeconds: 900, managementToken: true },
  { workspace: 'dev', callers: { roles: [], appIds: [], objectIds: [OID_B] }, modes: ['pat'], maxLifetimeSeconds: 7200, managementToken: false },
  { workspace: 'shared', tenants: [PARTNER.toUpperCase(), HOME], callers: { roles: ['Vend.Shared'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false },
  { workspace: 'partner-only', tenants: [PARTNER], callers: { roles: ['Vend.Shared'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false },
  { workspace: 'dev', callers: { roles: [], appIds: [], objectIds: [], usersViaAppIds: [APP_A] }, modes: ['pat'], maxLifetimeSeconds: 600, managementToken: false },
], HOME.toUpperCase());

function caller(overrides: Partial<CallerIdentity>): CallerIdentity {
  return { tenantId: HOME, objectId: 'oid-x', appId: 'app-x', roles: [], kind: 'app', name: undefined, ...overrides };
}

const NO_GRANT = /^Not granted, or no such workspace: /;

describe('authorize', () => {
  const cases: { name: string; who: Partial<CallerIdentity>; ws: string; mode: 'aad' | 'pat'; mgmt: boolean; allow: boolean | RegExp }[] = [
    { name: 'role grants aad', who: { roles: ['Vend.Prod'] }, ws: 'prod', mode: 'aad', mgmt: false, allow: true },
    { name: 'role does not grant pat', who: { roles: ['Vend.Prod'] }, ws: 'prod', mode: 'pat', mgmt: false, allow: /does not allow mode "pat"/ },
    { name: 'role does not grant management token', who: { roles: ['Vend.Prod'] }, ws: 'prod', mode: 'aad', mgmt: true, allow: /management token/ },
    { name: 'app id (any case) grants management token', who: { appId: APP_A }, ws: 'prod', mode: 'aad', mgmt: true, allow: true },
    // appIds names the app acting as itself: a user signing in through that app is not the app.
    { name: 'a user whose client app is in appIds is not granted', who: { appId: APP_A, kind: 'user' }, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'usersViaAppIds grants users coming through that app', who: { appId: APP_A, kind: 'user' }, ws: 'dev', mode: 'pat', mgmt: false, allow: true },
    { name: 'usersViaAppIds does not grant the app itself', who: { appId: APP_A }, ws: 'dev', mode: 'pat', mgmt: false, allow: NO_GRANT },
    { name: 'object id grants pat on dev', who: { objectId: OID_B }, ws: 'dev', mode: 'pat', mgmt: false, allow: true },
    { name: 'object id has nothing on prod', who: { objectId: OID_B }, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'role names compare exactly', who: { roles: ['vend.prod'] }, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'nobody', who: {}, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'a granted role from another tenant counts for nothing', who: { tenantId: PARTNER, roles: ['Vend.Prod'] }, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'a granted app id from another tenant counts for nothing', who: { tenantId: PARTNER, appId: APP_A }, ws: 'prod', mode: 'aad', mgmt: false, allow: NO_GRANT },
    { name: 'a granted object id from another tenant counts for nothing', who: { tenantId: PARTNER, objectId: OID_B }, ws: 'dev', mode: 'pat', mgmt: false, allow: NO_GRANT },
    { name: 'a grant naming the partner tenant admits it', who: { tenantId: PARTNER, roles: ['Vend.Shared'] }, ws: 'shared', mode: 'aad', mgmt: false, allow: true },
    { name: 'a grant naming the home tenant too admits it', who: { roles: ['Vend.Shared'] }, ws: 'shared', mode: 'aad', mgmt: false, allow: true },
    { name: 'a grant naming only the partner tenant leaves the home tenant out', who: { roles: ['Vend.Shared'] }, ws: 'partner-only', mode: 'aad', mgmt: false, allow: NO_GRANT },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = (): unknown => authorize(grants, caller(c.who), { workspace: c.ws, mode: c.mode, managementToken: c.mgmt });
      if (c.allow === true) expect(run()).toMatchObject({ workspace: c.ws });
      else {
        expect(run).toThrow(NotGrantedError);
        expect(run).toThrow(c.allow);
      }
    });
  }

  it('merges what several matching grants allow', () => {
    const e = authorize(grants, caller({ appId: APP_A, roles: ['Vend.Prod'] }), { workspace: 'prod', mode: 'aad', managementToken: false });
    expect([...e.modes].sort()).toEqual(['aad', 'pat']);
    expect(e.maxLifetimeSeconds).toBe(3600);
    expect(e.managementToken).toBe(true);
  });

  it('lists the entitlements of a caller only, in its tenant only', () => {
    expect(entitlementsOf(grants, caller({ objectId: OID_B })).map((e) => e.workspace)).toEqual(['dev']);
    expect(entitlementsOf(grants, caller({}))).toEqual([]);
    expect(entitlementsOf(grants, caller({ tenantId: PARTNER, objectId: OID_B, appId: APP_A, roles: ['Vend.Prod', 'Vend.Shared'] })).map((e) => e.workspace)).toEqual(['shared', 'partner-only']);
  });

  it('refuses an ungranted workspace in the very words used for an unknown one', () => {
    let refusal: unknown;
    try {
      authorize(grants, caller({}), { workspace: 'prod', mode: 'aad', managementToken: false });
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(NotGrantedError);
    expect({ ...(refusal as NotGrantedError) }).toEqual({ ...notGranted('prod') });
    expect((refusal as NotGrantedError).message).toBe(notGranted('prod').message);
  });
});

describe('compileGrants: indexed by workspace', () => {
  it('hands a decision only the grants of the workspace asked for, in configuration order, with 1,000 grants', () => {
    const many = compileGrants(
      Array.from({ length: 1_000 }, (_, i) => ({
        workspace: `ws-${i % 500}`,
        callers: { roles: [`Vend.${i}`], appIds: [], objectIds: [] },
        modes: ['aad' as const],
        maxLifetimeSeconds: 600 + i,
        managementToken: false,
      })),
      HOME,
    );
    expect(many.all).toHaveLength(1_000);
    expect(many.forWorkspace('ws-7').map((g) => g.maxLifetimeSeconds)).toEqual([607, 1107]);
    expect(many.forWorkspace('ws-unknown')).toEqual([]);
    expect(Object.isFrozen(many.forWorkspace('ws-7'))).toBe(true);
    // The second grant of ws-7 names role Vend.507: that caller gets its lifetime, and nothing on ws-8.
    expect(authorize(many, caller({ roles: ['Vend.507'] }), { workspace: 'ws-7', mode: 'aad', managementToken: false }).maxLifetimeSeconds).toBe(1107);
    expect(() => authorize(many, caller({ roles: ['Vend.507'] }), { workspace: 'ws-8', mode: 'aad', managementToken: false })).toThrow(NO_GRANT);
    // A grant for another workspace is never looked at: an index that mixed them up would admit this.
    expect(() => authorize(many, caller({ roles: ['Vend.8'] }), { workspace: 'ws-7', mode: 'aad', managementToken: false })).toThrow(NO_GRANT);
  });
});

describe('RateLimiter', () => {
  it('allows the limit per minute, then answers 429 with Retry-After until the window ends', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(3, { now: () => now });
    for (let i = 0; i < 3; i++) limiter.take('a');
    limiter.take('b');
    now += 20_000;
    let error: unknown;
    try {
      limiter.take('a');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(40);
    now += 40_000;
    expect(() => limiter.take('a')).not.toThrow();
  });

  it('stays bounded under many callers', () => {
    let now = 0;
    const limiter = new RateLimiter(1, { now: () => now }, 10);
    for (let i = 0; i < 10; i++) limiter.take(`c${i}`);
    now += 61_000;
    for (let i = 10; i < 30; i++) limiter.take(`c${i}`);
    expect(() => limiter.take('c29')).toThrow(RateLimitedError);
  });
});
