import { describe, expect, it } from 'vitest';
import type { GrantDocument } from '../../src/core/config';
import { NotGrantedError } from '../../src/core/errors';
import { authorize, callerMatches, compileGrants, entitlementsOf } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';

// What a decision hands the vend path: the merged entitlement of the matching grants (scopes,
// default scopes and grant ids go into the token and the audit record), and who matches at all.
const T = 'tenant-1';
const doc = (over: Partial<GrantDocument>): GrantDocument => ({ workspace: 'ws', callers: { roles: ['R'], appIds: [], objectIds: [] }, modes: ['oauth'], maxLifetimeSeconds: 600, managementToken: false, ...over });
const who = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({ tenantId: T, objectId: 'oid', appId: 'app', roles: ['R'], kind: 'app', name: undefined, ...over });
const ask = { workspace: 'ws', mode: 'oauth' as const, managementToken: false };

describe('authorize: the entitlement', () => {
  it('one grant: its own scopes, defaults and id, the same frozen entitlement every time', () => {
    const grants = compileGrants([doc({ scopes: ['sql', 'jobs:read'], defaultScopes: ['sql'] })], T);
    const e = authorize(grants, who(), ask);
    expect(e).toEqual({ workspace: 'ws', modes: new Set(['oauth']), maxLifetimeSeconds: 600, managementToken: false, scopes: ['jobs:read', 'sql'], defaultScopes: ['sql'], grantIds: ['config:0'] });
    expect(Object.isFrozen(e)).toBe(true);
    expect(authorize(grants, who(), ask)).toBe(e);
  });

  it('several grants: the union of scopes and defaults, sorted and once each, the longest lifetime, every grant id in order', () => {
    const grants = compileGrants(
      [
        doc({ scopes: ['sql', 'jobs'], defaultScopes: ['sql'], maxLifetimeSeconds: 300 }),
        doc({ workspace: 'other', scopes: ['clusters'] }),
        doc({ callers: { roles: [], appIds: [], objectIds: ['oid'] }, scopes: ['clusters', 'sql'], defaultScopes: ['clusters'], maxLifetimeSeconds: 900, managementToken: true, modes: ['oauth', 'pat'] }),
      ],
      T,
    );
    const e = authorize(grants, who(), ask);
    expect(e).toEqual({ workspace: 'ws', modes: new Set(['oauth', 'pat']), maxLifetimeSeconds: 900, managementToken: true, scopes: ['clusters', 'jobs', 'sql'], defaultScopes: ['clusters', 'sql'], grantIds: ['config:0', 'config:2'] });
    expect(entitlementsOf(grants, who())).toEqual([e, expect.objectContaining({ workspace: 'other', scopes: ['clusters'], grantIds: ['config:1'] })]);
  });

  it('a grant of another tenant counts for nothing, even for a matching role', () => {
    const grants = compileGrants([doc({ tenants: ['tenant-2'] })], T);
    const err = (() => {
      try {
        return authorize(grants, who(), ask);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NotGrantedError);
    expect(entitlementsOf(grants, who())).toEqual([]);
    expect(entitlementsOf(grants, who({ tenantId: 'TENANT-2' }))).toHaveLength(1);
  });
});

describe('callerMatches: how a caller is named', () => {
  const [byApp, byUsersVia] = compileGrants(
    [doc({ callers: { roles: [], appIds: ['APP'], objectIds: [] } }), doc({ callers: { roles: [], appIds: [], objectIds: [], usersViaAppIds: ['APP'] } })],
    T,
  ).all;

  it('appIds name the application acting as itself, usersViaAppIds the users signed in through it', () => {
    expect(callerMatches(byApp, who({ roles: [], appId: 'app' }))).toBe(true);
    expect(callerMatches(byApp, who({ roles: [], appId: 'app', kind: 'user' }))).toBe(false);
    expect(callerMatches(byUsersVia, who({ roles: [], appId: 'APP', kind: 'user' }))).toBe(true);
    expect(callerMatches(byUsersVia, who({ roles: [], appId: 'app' }))).toBe(false);
  });
});
