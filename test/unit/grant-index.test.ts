import { describe, expect, it } from 'vitest';
import { authorize, callerMatches, compileGrants } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import type { GrantDocument } from '../../src/core/config';

const HOME = 'c0c0c0c0-0000-4000-8000-000000000001';
const guid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function caller(overrides: Partial<CallerIdentity>): CallerIdentity {
  return { tenantId: HOME, objectId: guid(999_999), appId: guid(888_888), roles: [], kind: 'app', name: undefined, ...overrides };
}

/** 1,000 grants on one workspace, by role, app id, object id and usersViaAppIds in turn, plus a few elsewhere. */
function many(): GrantDocument[] {
  const docs: GrantDocument[] = [];
  for (let i = 0; i < 1_000; i += 1) {
    const callers = { roles: i % 4 === 0 ? [`Role.${i % 40}`] : [], appIds: i % 4 === 1 ? [guid(i).toUpperCase()] : [], objectIds: i % 4 === 2 ? [guid(i)] : [], ...(i % 4 === 3 ? { usersViaAppIds: [guid(i % 20)] } : {}) };
    docs.push({ workspace: i % 100 === 99 ? 'other' : 'big', callers, modes: ['aad'], maxLifetimeSeconds: 600 + i, managementToken: false });
  }
  return docs;
}

describe('grant index', () => {
  const grants = compileGrants(many(), HOME);
  const callers: CallerIdentity[] = [
    caller({ roles: ['Role.0'] }),
    caller({ roles: ['Role.8', 'Role.16', 'Nope'] }),
    caller({ appId: guid(5) }),
    caller({ appId: guid(5), kind: 'user' }),
    caller({ appId: guid(3), kind: 'user' }),
    caller({ objectId: guid(6).toUpperCase() }),
    caller({ objectId: guid(6), tenantId: guid(7) }),
    caller({ roles: ['Role.0'], appId: guid(1), objectId: guid(2) }),
    caller({}),
  ];

  it('finds exactly the grants a scan of the workspace finds, in configuration order', () => {
    for (const who of callers) {
      for (const ws of ['big', 'other', 'none']) {
        const scanned = grants.forWorkspace(ws).filter((g) => callerMatches(g, who)).map((g) => g.id);
        const indexed = grants.candidates(ws, who).filter((g) => callerMatches(g, who)).map((g) => g.id);
        expect(indexed).toEqual(scanned);
      }
    }
  });

  it('hands a decision only the grants naming the caller, not the workspace\'s 990', () => {
    expect(grants.forWorkspace('big').length).toBe(990);
    expect(grants.candidates('big', caller({ roles: ['Role.0'] })).length).toBe(25);
    expect(grants.candidates('big', caller({ objectId: guid(6) })).map((g) => g.id)).toEqual(['config:6']);
    expect(grants.candidates('big', caller({}))).toEqual([]);
    const e = authorize(grants, caller({ roles: ['Role.0'], objectId: guid(6) }), { workspace: 'big', mode: 'aad', managementToken: false });
    expect(e.grantIds[0]).toBe('config:0');
    expect(e.grantIds).toContain('config:6');
    expect(e.maxLifetimeSeconds).toBe(600 + 960);
  });
});
