import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/core/audit/group-commit';
import type { AuditEntity, BatchWriter } from '../../src/core/audit/group-commit';

/** A store that hangs on the first `hang` batches (until released) and answers the rest at once. */
function hangingStore(hang: number) {
  const held: (() => void)[] = [];
  const written: string[] = [];
  const writer: BatchWriter = {
    insertBatch(entities: readonly AuditEntity[]) {
      if (held.length < hang) return new Promise<void>((resolve) => held.push(() => (written.push(...entities.map((e) => e.rowKey)), resolve())));
      written.push(...entities.map((e) => e.rowKey));
      return Promise.resolve();
    },
  };
  return { writer, written, releaseAll: () => held.splice(0).forEach((r) => r()) };
}

const settled = (p: Promise<void>, ms: number): Promise<'written' | 'failed' | 'pending'> =>
  Promise.race([p.then(() => 'written' as const, () => 'failed' as const), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('group commit: a hung store frees its slots after the slot timeout', () => {
  it('two hung batches no longer block the next row once the store answers again', async () => {
    const store = hangingStore(2);
    const committer = new GroupCommitter(store.writer, { kind: 'issuance', buckets: 1, maxInFlight: 2, slotTimeoutMs: 50 });
    const first = committer.submit('20261129', { rowKey: 'a' });
    const second = committer.submit('20261129', { rowKey: 'b' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await settled(committer.submit('20261129', { rowKey: 'c' }), 1_000)).toBe('written');
    // The hung batches still settle their own rows when they return.
    store.releaseAll();
    await Promise.all([first, second]);
    expect(store.written.sort()).toEqual(['a', 'b', 'c']);
  });

  it('a late batch that returns after its slot was given up does not free a second slot', async () => {
    const pending: { rows: string[]; done: () => void }[] = [];
    const writer: BatchWriter = {
      insertBatch: (entities) => new Promise<void>((resolve) => pending.push({ rows: entities.map((e) => e.rowKey), done: resolve })),
    };
    const committer = new GroupCommitter(writer, { kind: 'issuance', buckets: 1, maxInFlight: 1, slotTimeoutMs: 20 });
    const a = committer.submit('20261129', { rowKey: 'a' });
    await new Promise((r) => setTimeout(r, 40));
    // a gave up its slot: b goes out while a is still unanswered.
    void committer.submit('20261129', { rowKey: 'b' });
    await new Promise((r) => setImmediate(r));
    expect(pending.map((p) => p.rows)).toEqual([['a'], ['b']]);
    // a returns late; b still holds the only slot, so c waits for b.
    pending[0]?.done();
    await a;
    void committer.submit('20261129', { rowKey: 'c' });
    await new Promise((r) => setImmediate(r));
    expect(pending).toHaveLength(2);
    pending[1]?.done();
    await new Promise((r) => setTimeout(r, 5));
    expect(pending.map((p) => p.rows)).toEqual([['a'], ['b'], ['c']]);
    pending[2]?.done();
  });

  it('without a slot timeout the next row waits for the hung batches (the old behaviour, kept as the default)', async () => {
    const store = hangingStore(2);
    const committer = new GroupCommitter(store.writer, { kind: 'issuance', buckets: 1, maxInFlight: 2 });
    void committer.submit('20261129', { rowKey: 'a' });
    void committer.submit('20261129', { rowKey: 'b' });
    expect(await settled(committer.submit('20261129', { rowKey: 'c' }), 200)).toBe('pending');
    store.releaseAll();
  });
});
