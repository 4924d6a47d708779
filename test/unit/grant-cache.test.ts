import { describe, expect, it } from 'vitest';
import { GrantCache } from '../../src/core/grants';
import type { ApiGrant, GrantStore } from '../../src/core/grants';
import { authorize, compileGrants } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';

const HOME = 'c0c0c0c0-0000-4000-8000-000000000001';
const APP_B = 'bbbbbbbb-0000-4000-8000-000000000002';
const T0 = Date.parse('2026-01-01T00:00:00Z');

function apiGrant(id: string, expiresAtMs: number, state: 'active' | 'revoked' = 'active'): ApiGrant {
  const actor = { tid: HOME, oid: 'o', appid: 'a', kind: 'user' as const };
  return { id, workspace: 'prod', callers: { roles: [], appIds: [APP_B], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 600, managementToken: false, expiresAt: new Date(expiresAtMs).toISOString(), reason: 'r', createdBy: actor, createdAt: new Date(T0).toISOString(), state };
}

/** A store whose answers the test sets: rows, or a failure. */
function fakeStore(): GrantStore & { rows: ApiGrant[]; down: boolean; reads: number } {
  const store = {
    rows: [] as ApiGrant[],
    down: false,
    reads: 0,
    list: () => {
      store.reads += 1;
      return store.down ? Promise.reject(new Error('down')) : Promise.resolve(store.rows.map((item) => ({ item, etag: 'e' })));
    },
    get: () => Promise.resolve(undefined),
    insert: () => Promise.resolve(),
    replace: () => Promise.resolve(),
  };
  return store as unknown as GrantStore & { rows: ApiGrant[]; down: boolean; reads: number };
}

const teamB: CallerIdentity = { tenantId: HOME, objectId: 'oid-b', appId: APP_B, roles: [], kind: 'app', name: undefined };
const config = compileGrants([{ workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 600, managementToken: false }], HOME);
const admits = (cache: GrantCache, who: CallerIdentity = teamB): boolean => {
  try {
    authorize(cache.current(), who, { workspace: 'prod', mode: 'aad', managementToken: false });
    return true;
  } catch {
    return false;
  }
};

function setup(): { cache: GrantCache; store: ReturnType<typeof fakeStore>; clock: { t: number; now(): number } } {
  const store = fakeStore();
  const clock = { t: T0, now: () => clock.t };
  const cache = new GrantCache({ store, configGrants: config, homeTenantId: HOME, clock, refreshMs: 10_000, maxStaleMs: 60_000 });
  return { cache, store, clock };
}

describe('GrantCache', () => {
  it('config and API grants are one set, matched by one function; an API grant stops the moment it expires', async () => {
    const { cache, store, clock } = setup();
    store.rows = [apiGrant('g1', T0 + 5_000), apiGrant('g2', T0 + 50_000, 'revoked')];
    expect(admits(cache)).toBe(false); // nothing read yet: API grants admit nobody
    await cache.refresh();
    expect(authorize(cache.current(), teamB, { workspace: 'prod', mode: 'aad', managementToken: false }).grantIds).toEqual(['g1']);
    clock.t = T0 + 4_999;
    expect(admits(cache)).toBe(true);
    clock.t = T0 + 5_000;
    expect(admits(cache)).toBe(false);
    expect(admits(cache, { ...teamB, roles: ['Vend.Prod'] })).toBe(true);
  });

  it('keeps the last good set while the table fails, for maxStaleMs; then API grants admit nobody, config grants still do', async () => {
    const { cache, store, clock } = setup();
    store.rows = [apiGrant('g1', T0 + 3_600_000)];
    await cache.refresh();
    expect(cache.health()).toBe('ok');
    store.down = true;
    clock.t = T0 + 30_000;
    await cache.refresh();
    expect(cache.health()).toBe('stale');
    expect(admits(cache)).toBe(true);
    clock.t = T0 + 60_001;
    expect(cache.health()).toBe('failing');
    expect(admits(cache)).toBe(false);
    expect(admits(cache, { ...teamB, roles: ['Vend.Prod'] })).toBe(true);
    store.down = false;
    await cache.refresh();
    expect(cache.health()).toBe('ok');
    expect(admits(cache)).toBe(true);
  });

  it('a change through this instance counts at once, and a read begun before it does not undo it', async () => {
    const { cache, store } = setup();
    await cache.refresh();
    const inFlight = cache.refresh(); // reads the table as it was before the change
    cache.applyLocal(apiGrant('g3', T0 + 60_000));
    expect(admits(cache)).toBe(true);
    await inFlight;
    expect(admits(cache)).toBe(true);
    store.rows = [apiGrant('g3', T0 + 60_000, 'revoked')];
    await cache.refresh();
    expect(admits(cache)).toBe(false);
  });
});
