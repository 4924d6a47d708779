import { describe, expect, it } from 'vitest';
import { KeyedTokenCache } from '../../src/core/mint';

let now = 1_000_000;
const clock = { now: () => now };
const token = (name: string, validForMs: number) => ({ token: name, expiresOnMs: now + validForMs });

describe('KeyedTokenCache', () => {
  it('reuses a token while it has the asked validity left, and mints again from the exact boundary on', async () => {
    now = 1_000_000;
    const cache = new KeyedTokenCache(clock);
    let mints = 0;
    const mint = () => Promise.resolve(token(`t${++mints}`, 60_000));
    expect((await cache.get('k', 30, mint)).token).toBe('t1');
    now += 30_000; // exactly 30 s left: still enough for 30 s
    expect((await cache.get('k', 30, mint)).token).toBe('t1');
    now += 1; // 29.999 s left
    expect((await cache.get('k', 30, mint)).token).toBe('t2');
    expect(mints).toBe(2);
  });

  it('keeps tokens apart by key', async () => {
    const cache = new KeyedTokenCache(clock);
    await cache.get('alice', 0, () => Promise.resolve(token('a', 60_000)));
    const b = await cache.get('bob', 0, () => Promise.resolve(token('b', 60_000)));
    expect(b.token).toBe('b');
    expect((await cache.get('alice', 0, () => Promise.resolve(token('other', 60_000)))).token).toBe('a');
    expect(cache.size).toBe(2);
  });

  it('runs one mint per key at a time, and a failed mint is neither cached nor kept in flight', async () => {
    const cache = new KeyedTokenCache(clock);
    let release: (t: { token: string; expiresOnMs: number }) => void = () => undefined;
    let mints = 0;
    const slow = () => (mints++, new Promise<{ token: string; expiresOnMs: number }>((r) => (release = r)));
    const both = Promise.all([cache.get('k', 0, slow), cache.get('k', 0, slow)]);
    release(token('one', 60_000));
    expect((await both).map((t) => t.token)).toEqual(['one', 'one']);
    expect(mints).toBe(1);
    await expect(cache.get('f', 0, () => Promise.reject(new Error('mint failed')))).rejects.toThrow('mint failed');
    expect(cache.size).toBe(1);
    expect((await cache.get('f', 0, () => Promise.resolve(token('retry', 60_000)))).token).toBe('retry');
  });

  it('when full, an expired token makes room before the oldest live one does', async () => {
    now = 7_000_000;
    const cache = new KeyedTokenCache(clock, 2);
    await cache.get('live', 0, () => Promise.resolve(token('live', 60_000)));
    await cache.get('short', 0, () => Promise.resolve(token('short', 10)));
    now += 11;
    await cache.get('new', 0, () => Promise.resolve(token('new', 60_000)));
    expect(cache.size).toBe(2);
    let reminted = false;
    await cache.get('live', 0, () => ((reminted = true), Promise.resolve(token('live2', 60_000))));
    expect(reminted).toBe(false);
  });

  it('stays within its size: expired tokens go first, then the oldest', async () => {
    now = 5_000_000;
    const cache = new KeyedTokenCache(clock, 2);
    await cache.get('old', 0, () => Promise.resolve(token('old', 10)));
    await cache.get('live', 0, () => Promise.resolve(token('live', 60_000)));
    now += 10; // `old` has no validity left
    await cache.get('new', 0, () => Promise.resolve(token('new', 60_000)));
    expect(cache.size).toBe(2);
    let reminted = false;
    await cache.get('live', 0, () => ((reminted = true), Promise.resolve(token('live2', 60_000))));
    expect(reminted).toBe(false);
    // Full of live tokens: the oldest insertion (`live`) makes room.
    await cache.get('newer', 0, () => Promise.resolve(token('newer', 60_000)));
    expect(cache.size).toBe(2);
    expect((await cache.get('live', 0, () => Promise.resolve(token('live3', 60_000)))).token).toBe('live3');
    // Replacing an existing key in a full cache evicts nothing.
    now += 60_001;
    expect(cache.size).toBe(2);
    await cache.get('live', 0, () => Promise.resolve(token('live4', 60_000)));
    expect(cache.size).toBe(2);
  });

  it('below its bound, sweeps nothing: expired tokens are cleared only when room is needed', async () => {
    now = 9_000_000;
    const cache = new KeyedTokenCache(clock, 3);
    await cache.get('short', 0, () => Promise.resolve(token('short', 10)));
    now += 11; // `short` has expired
    await cache.get('a', 0, () => Promise.resolve(token('a', 60_000)));
    expect(cache.size).toBe(2);
    await cache.get('b', 0, () => Promise.resolve(token('b', 60_000)));
    expect(cache.size).toBe(3);
    // Full: the expired one makes room, the live ones stay.
    await cache.get('c', 0, () => Promise.resolve(token('c', 60_000)));
    expect(cache.size).toBe(3);
    let reminted = false;
    await cache.get('a', 0, () => ((reminted = true), Promise.resolve(token('a2', 60_000))));
    expect(reminted).toBe(false);
  });
});
