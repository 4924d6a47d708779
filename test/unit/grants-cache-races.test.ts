import { afterEach, describe, expect, it, vi } from 'vitest';
import { GrantCache } from '../../src/core/grants';
import type { ApiGrant, GrantStore } from '../../src/core/grants';
import { authorize, compileGrants } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';

// The grant cache between reads: a change made through this instance counts at once and is not
// undone by a read that began before it; the refresh timer reads on its interval and stops.

const HOME = 'c0c0c0c0-0000-4000-8000-000000000001';
const APP_B = 'bbbbbbbb-0000-4000-8000-000000000002';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const teamB: CallerIdentity = { tenantId: HOME, objectId: 'oid-b', appId: APP_B, roles: [], kind: 'app', name: undefined };

function grant(id: string, state: 'active' | 'revoked' = 'active'): ApiGrant {
  const actor = { tid: HOME, oid: 'o', appid: 'a', kind: 'user' as const };
  return { id, workspace: 'prod', callers: { roles: [], appIds: [APP_B], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 600, managementToken: false, expiresAt: new Date(T0 + 3_600_000).toISOString(), reason: 'r', createdBy: actor, createdAt: new Date(T0).toISOString(), state };
}

function setup() {
  const store = {
    rows: [] as ApiGrant[],
    reads: 0,
    gate: undefined as Promise<void> | undefined,
    list: async () => {
      store.reads += 1;
      const rows = store.rows.map((item) => ({ item, etag: 'e' }));
      if (store.gate) await store.gate;
      return rows;
    },
  };
  const clock = { now: () => T0 };
  const cache = new GrantCache({ store: store as unknown as GrantStore, configGrants: compileGrants([], HOME), homeTenantId: HOME, clock, refreshMs: 10_000, maxStaleMs: 60_000 });
  const admitted = () => {
    try {
      return authorize(cache.current(), teamB, { workspace: 'prod', mode: 'aad', managementToken: false }).grantIds;
    } catch {
      return [];
    }
  };
  return { cache, store, admitted };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('GrantCache and local changes', () => {
  it('a revocation through this instance stops the grant at once, before any read confirms it', async () => {
    const { cache, store, admitted } = setup();
    store.rows = [grant('g1'), grant('g2')];
    await cache.refresh();
    expect(admitted()).toEqual(['g1', 'g2']);
    store.gate = new Promise(() => undefined);
    cache.applyLocal(grant('g1', 'revoked'));
    expect(admitted()).toEqual(['g2']);
  });

  it('a read that began before a change does not undo it; the next read confirms what the table holds', async () => {
    const { cache, store, admitted } = setup();
    store.rows = [grant('g1'), grant('g2')];
    await cache.refresh();
    let open: () => void = () => undefined;
    store.gate = new Promise((r) => (open = r));
    const before = cache.refresh();
    cache.applyLocal(grant('g1', 'revoked'));
    store.rows = [grant('g1', 'revoked'), grant('g2')];
    open();
    await before;
    expect(admitted()).toEqual(['g2']);
    store.gate = undefined;
    await new Promise((r) => setImmediate(r));
    await cache.refresh();
    expect(store.reads).toBeGreaterThanOrEqual(3);
    expect(admitted()).toEqual(['g2']);
  });

  it('a change made here yields to the table once a read has seen it: a later revocation elsewhere counts', async () => {
    const { cache, store, admitted } = setup();
    store.rows = [grant('g1')];
    await cache.refresh();
    cache.applyLocal(grant('g1'));
    // The read that confirms the change (applyLocal starts it), then another instance revokes the grant.
    await new Promise((r) => setImmediate(r));
    await cache.refresh();
    expect(admitted()).toEqual(['g1']);
    store.rows = [grant('g1', 'revoked')];
    await cache.refresh();
    expect(admitted()).toEqual([]);
  });

  it('start reads again every refreshMs; stop ends the reads; the timer never keeps the process alive', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { cache, store } = setup();
    const timers: { hasRef(): boolean }[] = [];
    const real = globalThis.setInterval;
    const spy = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms: number) => {
      const t = real(fn, ms);
      timers.push(t);
      return t;
    }) as typeof setInterval);
    cache.start();
    spy.mockRestore();
    expect(store.reads).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(store.reads).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(store.reads).toBe(3);
    expect(timers.map((t) => t.hasRef())).toEqual([false]);
    cache.stop();
    await vi.advanceTimersByTimeAsync(50_000);
    expect(store.reads).toBe(3);
  });
});
