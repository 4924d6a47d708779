import { describe, expect, it } from 'vitest';
import type { GrantDocument } from '../../src/core/config';
import { callerMatches, compileAuditors, compileGrant, compileGrants, compilePrincipals, indexGrants, NOBODY, principalMatches } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';

// How grants, auditors, owners and admins are compiled for matching: defaults, case, and the
// per-principal index a decision looks grants up in.
const HOME = 'AAAAAAAA-0000-4000-8000-000000000001';
const OTHER = 'bbbbbbbb-0000-4000-8000-000000000002';
const APP = 'CCCCCCCC-0000-4000-8000-000000000003';
const OID = 'DDDDDDDD-0000-4000-8000-000000000004';

const doc = (over: Omit<Partial<GrantDocument>, 'callers'> & { callers?: Partial<GrantDocument['callers']> } = {}): GrantDocument => ({
  workspace: 'ws',
  modes: ['aad'],
  maxLifetimeSeconds: 600,
  managementToken: false,
  ...over,
  callers: { roles: [], appIds: [], objectIds: [], ...over.callers },
});

const caller = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({ tenantId: HOME.toLowerCase(), objectId: 'nobody', appId: 'no-app', roles: [], kind: 'app', name: undefined, ...over });

describe('compileGrant', () => {
  it('lower-cases ids and tenants, keeps role names as written, and defaults what the document leaves out', () => {
    const g = compileGrant(doc({ callers: { roles: ['Vend.X'], appIds: [APP], objectIds: [OID] } }), HOME, 'config:0');
    expect(g).toEqual({
      id: 'config:0',
      workspace: 'ws',
      tenants: new Set([HOME.toLowerCase()]),
      roles: new Set(['Vend.X']),
      appIds: new Set([APP.toLowerCase()]),
      objectIds: new Set([OID.toLowerCase()]),
      usersViaAppIds: new Set(),
      modes: new Set(['aad']),
      maxLifetimeSeconds: 600,
      managementToken: false,
      scopes: [],
      defaultScopes: [],
      maxLivePats: 20,
    });
    expect(g).not.toHaveProperty('expiresAtMs');
    expect(Object.isFrozen(g)).toBe(true);
  });

  it('takes the tenants, users-via apps, scopes, live-PAT cap and expiry it is given', () => {
    const g = compileGrant(doc({ tenants: [OTHER.toUpperCase()], callers: { usersViaAppIds: [APP] }, scopes: ['sql', 'jobs', 'sql'], defaultScopes: ['sql'], maxLivePats: 3, modes: ['pat', 'oauth'] }), HOME, 'g-1', 1234);
    expect(g).toMatchObject({ id: 'g-1', expiresAtMs: 1234, tenants: new Set([OTHER]), usersViaAppIds: new Set([APP.toLowerCase()]), scopes: ['jobs', 'sql'], defaultScopes: ['sql'], maxLivePats: 3, modes: new Set(['pat', 'oauth']) });
    expect(Object.isFrozen(g.scopes)).toBe(true);
    expect(Object.isFrozen(g.defaultScopes)).toBe(true);
  });
});

describe('compileGrants and the principal index', () => {
  it('numbers config grants by position and lists a workspace\'s grants in configuration order', () => {
    const grants = compileGrants([doc({ workspace: 'a' }), doc({ workspace: 'b' }), doc({ workspace: 'a' })], HOME);
    expect(grants.all.map((g) => g.id)).toEqual(['config:0', 'config:1', 'config:2']);
    expect(grants.forWorkspace('a').map((g) => g.id)).toEqual(['config:0', 'config:2']);
    expect(grants.forWorkspace('nope')).toEqual([]);
    expect(Object.isFrozen(grants.all)).toBe(true);
    expect(Object.isFrozen(grants.forWorkspace('a'))).toBe(true);
  });

  it('finds a grant by role, app id (for itself or its users), object id or group, each once, in configuration order', () => {
    const grants = compileGrants(
      [
        doc({ callers: { objectIds: [OID] } }),
        doc({ callers: { roles: ['R'] } }),
        doc({ callers: { appIds: [APP], usersViaAppIds: [APP] } }),
        doc({ callers: { objectIds: ['GROUP-1'] } }),
        doc({ callers: { roles: ['R'], objectIds: [OID] } }),
        doc({ workspace: 'elsewhere', callers: { roles: ['R'] } }),
      ],
      HOME,
    );
    const ids = (who: Parameters<typeof grants.candidates>[1]) => grants.candidates('ws', who).map((g) => g.id);
    expect(ids({ roles: ['R'], appId: APP.toUpperCase(), objectId: OID.toUpperCase(), groups: ['group-1'] })).toEqual(['config:0', 'config:1', 'config:2', 'config:3', 'config:4']);
    expect(ids({ roles: [], appId: APP, objectId: 'x' })).toEqual(['config:2']);
    expect(ids({ roles: [], appId: 'x', objectId: 'x', groups: ['group-1'] })).toEqual(['config:3']);
    expect(ids({ roles: ['r'], appId: 'x', objectId: 'x' })).toEqual([]);
    expect(grants.candidates('nope', { roles: ['R'], appId: APP, objectId: OID })).toEqual([]);
  });

  it('indexes API grants the same way, keeping their ids', () => {
    const grants = indexGrants([compileGrant(doc({ callers: { roles: ['R'] } }), HOME, 'api-1', 99)]);
    expect(grants.candidates('ws', { roles: ['R'], appId: 'x', objectId: 'x' }).map((g) => g.id)).toEqual(['api-1']);
  });
});

describe('compileAuditors', () => {
  it('compiles the auditors like a grant\'s callers, never for users through an app', () => {
    const m = compileAuditors({ callers: { roles: ['Audit.Read'], appIds: [APP], objectIds: [OID] }, maxSpanDays: 7 }, HOME);
    expect(m).toEqual({ tenants: new Set([HOME.toLowerCase()]), roles: new Set(['Audit.Read']), appIds: new Set([APP.toLowerCase()]), objectIds: new Set([OID.toLowerCase()]), usersViaAppIds: new Set() });
    expect(Object.isFrozen(m)).toBe(true);
    const other = compileAuditors({ tenants: [OTHER.toUpperCase()], callers: { roles: ['Audit.Read'], appIds: [], objectIds: [] }, maxSpanDays: 7 }, HOME);
    expect(other?.tenants).toEqual(new Set([OTHER]));
    expect(callerMatches(other as NonNullable<typeof other>, caller({ roles: ['Audit.Read'] }))).toBe(false);
  });
});

describe('compilePrincipals and principalMatches', () => {
  it('no document: nobody', () => {
    expect(compilePrincipals(undefined, HOME)).toBe(NOBODY);
  });

  it('the home tenant unless others are named; ids in any case', () => {
    const p = compilePrincipals({ roles: ['Owner'], appIds: [APP], objectIds: [OID] }, HOME);
    expect(p).toEqual({ tenants: new Set([HOME.toLowerCase()]), roles: new Set(['Owner']), appIds: new Set([APP.toLowerCase()]), objectIds: new Set([OID.toLowerCase()]) });
    expect(Object.isFrozen(p)).toBe(true);
    expect(principalMatches(p, caller({ tenantId: HOME, objectId: OID }))).toBe(true);
    const elsewhere = compilePrincipals({ tenants: [OTHER.toUpperCase()], roles: ['Owner'], appIds: [], objectIds: [] }, HOME);
    expect(principalMatches(elsewhere, caller({ tenantId: OTHER, roles: ['Owner'] }))).toBe(true);
    expect(principalMatches(elsewhere, caller({ roles: ['Owner'] }))).toBe(false);
  });

  it('an app matches as itself only; a user signed in through it does not', () => {
    const p = compilePrincipals({ roles: [], appIds: [APP], objectIds: [] }, HOME);
    expect(principalMatches(p, caller({ appId: APP }))).toBe(true);
    expect(principalMatches(p, caller({ appId: APP, kind: 'user' }))).toBe(false);
  });

  it('a group id matches like an object id', () => {
    const p = compilePrincipals({ roles: [], appIds: [], objectIds: ['GROUP-1'] }, HOME);
    expect(principalMatches(p, caller({ groups: ['other', 'group-1'] }))).toBe(true);
    expect(principalMatches(p, caller({ groups: ['other'] }))).toBe(false);
    expect(principalMatches(p, caller())).toBe(false);
  });
});
