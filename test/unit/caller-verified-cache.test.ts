import { describe, expect, it } from 'vitest';
import { VerifiedTokenCache } from '../../src/core/caller';
import type { CallerIdentity } from '../../src/core/policy';

// The verified-token cache on its own: when an entry may answer, and how it is bounded.
const NOW = 1_800_000_000_000;
const EXP = NOW + 3_600_000;
const identity = (objectId: string): CallerIdentity => ({ tenantId: 't', objectId, appId: 'a', roles: ['Vend.X'], kind: 'app', name: undefined });

describe('VerifiedTokenCache', () => {
  it('answers up to, never at, the token exp; an expired entry is dropped', () => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', identity('o1'), EXP, NOW, 1);
    expect(cache.get('tok', EXP - 1, 1)).toEqual(identity('o1'));
    expect(cache.get('tok', EXP, 1)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('answers only for the key set generation it was checked with; another one drops the entry', () => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', identity('o1'), EXP, NOW, 1);
    expect(cache.get('tok', NOW, 2)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get('tok', NOW, 1)).toBeUndefined();
  });

  it('matches the whole token only', () => {
    const cache = new VerifiedTokenCache();
    cache.set('header.payload.sig1', identity('o1'), EXP, NOW, 1);
    expect(cache.get('header.payload.sig2', NOW, 1)).toBeUndefined();
    expect(cache.get('header.payload.sig1', NOW, 1)).toEqual(identity('o1'));
  });

  it.each([
    ['already expired', NOW - 1],
    ['expiring now', NOW],
    ['with no usable exp (NaN)', Number.NaN],
    ['with an infinite exp', Number.POSITIVE_INFINITY],
  ])('never stores a token %s', (_name, exp) => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', identity('o1'), exp, NOW, 1);
    expect(cache.size).toBe(0);
    expect(cache.get('tok', NOW - 10, 1)).toBeUndefined();
  });

  it('keeps its own frozen copy of the identity', () => {
    const cache = new VerifiedTokenCache();
    const original = { ...identity('o1'), roles: ['Vend.X'] };
    cache.set('tok', original, EXP, NOW, 1);
    original.roles.push('Vend.Admin');
    const cached = cache.get('tok', NOW, 1) as CallerIdentity;
    expect(cached.roles).toEqual(['Vend.X']);
    expect(Object.isFrozen(cached)).toBe(true);
    expect(Object.isFrozen(cached.roles)).toBe(true);
  });

  it('evicts the oldest entry first; storing a token again makes it the newest', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 2 });
    cache.set('a', identity('a'), EXP, NOW, 1);
    cache.set('b', identity('b'), EXP, NOW, 1);
    cache.set('a', identity('a'), EXP, NOW, 1);
    expect(cache.size).toBe(2);
    cache.set('c', identity('c'), EXP, NOW, 1);
    expect(cache.size).toBe(2);
    expect(cache.get('b', NOW, 1)).toBeUndefined();
    expect(cache.get('a', NOW, 1)).toEqual(identity('a'));
    expect(cache.get('c', NOW, 1)).toEqual(identity('c'));
  });

  it('holds 10,000 entries by default', () => {
    const cache = new VerifiedTokenCache();
    for (let i = 0; i <= 10_000; i += 1) cache.set(`t${i}`, identity('o'), EXP, NOW, 1);
    expect(cache.size).toBe(10_000);
    expect(cache.get('t0', NOW, 1)).toBeUndefined();
    expect(cache.get('t1', NOW, 1)).toBeDefined();
  });
});
