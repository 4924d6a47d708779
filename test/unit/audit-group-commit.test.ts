import { describe, expect, it } from 'vitest';
import { AuditBacklogError, EntityRejectedError, GroupCommitter, MAX_BATCH_ENTITIES } from '../../src/core/audit/group-commit';
import type { AuditEntity, BatchWriter } from '../../src/core/audit/group-commit';
import { loadAnew } from '../support/load-anew';

// Group commit's promises (README "Audit record"): batches within Table storage's transaction
// limits, one partition each, a bounded queue, and each row's promise settled by its own fate.

interface Call {
  readonly entities: readonly AuditEntity[];
  resolve(): void;
  reject(err: unknown): void;
}

/** A store whose every transaction waits until the test answers it. */
function gatedStore(): BatchWriter & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    insertBatch: (entities) => new Promise<void>((resolve, reject) => calls.push({ entities: [...entities], resolve, reject })),
  };
}

/** Lets pending promise callbacks run (no timers involved). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const keys = (c: Call | undefined): string[] => (c?.entities ?? []).map((e) => e.rowKey);

/**
 * One committer on a gated store whose first write (a lone row) has returned while `rows` waited
 * behind it: their batch is `store.calls[1]`, in flight, for the test to answer.
 */
async function queuedBehindFirstWrite(rows: readonly { readonly rowKey: string; readonly [field: string]: string }[]) {
  const store = gatedStore();
  const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
  const block = committer.submit('20261129', { rowKey: 'block' });
  const pending = rows.map((row) => committer.submit('20261129', row));
  store.calls[0]?.resolve();
  await block;
  await flush();
  return { store, committer, rows: pending };
}

describe('GroupCommitter batches', () => {
  it('writes a lone row at once and groups what arrives meanwhile into the next batch', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 8, maxInFlight: 1, random: () => 0.99 });
    expect(committer.idle).toBe(true);
    const first = committer.submit('20261129', { rowKey: 'a', n: 1 });
    expect(store.calls).toHaveLength(1);
    expect(committer.idle).toBe(false);
    const rest = ['b', 'c', 'd'].map((k) => committer.submit('20261129', { rowKey: k }));
    expect(committer.queued).toBe(3);
    expect(store.calls).toHaveLength(1);
    store.calls[0]?.resolve();
    await first;
    await flush();
    expect(store.calls).toHaveLength(2);
    expect(keys(store.calls[1])).toEqual(['b', 'c', 'd']);
    expect(committer.queued).toBe(0);
    // Every entity of a batch goes into one partition: day + bucket (random 0.99 of 8 buckets is 7).
    expect(store.calls.flatMap((c) => c.entities.map((e) => e.partitionKey))).toEqual(['20261129-07', '20261129-07', '20261129-07', '20261129-07']);
    expect(store.calls[0]?.entities[0]).toEqual({ rowKey: 'a', n: 1, partitionKey: '20261129-07' });
    store.calls[1]?.resolve();
    await Promise.all(rest);
    expect(committer.idle).toBe(true);
  });

  it('draws the bucket per batch within 0…buckets-1, refusal partitions named -r<bucket>', async () => {
    const draws = [0, 0.5, 0.999999];
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'refusal', buckets: 4, random: () => draws.shift() ?? 0 });
    const done = ['x', 'y', 'z'].map((k, i) => committer.submit(`2026113${i}`, { rowKey: k }));
    await flush();
    // One in flight by default: each of the others waits for the write before it.
    expect(store.calls).toHaveLength(1);
    store.calls[0]?.resolve();
    await flush();
    expect(store.calls).toHaveLength(2);
    store.calls[1]?.resolve();
    await flush();
    expect(store.calls).toHaveLength(3);
    store.calls[2]?.resolve();
    await Promise.all(done);
    expect(store.calls.map((c) => c.entities[0]?.partitionKey)).toEqual(['20261130-r0', '20261131-r2', '20261132-r3']);
  });

  it('never mixes days, never puts one RowKey twice in a batch, and keeps the order of the rest', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
    const all = [
      committer.submit('20261129', { rowKey: 'block' }),
      committer.submit('20261129', { rowKey: 'k1' }),
      committer.submit('20261130', { rowKey: 'n1' }),
      committer.submit('20261129', { rowKey: 'k1' }),
      committer.submit('20261129', { rowKey: 'k2' }),
    ];
    for (let i = 0; i < 4; i++) {
      store.calls[i]?.resolve();
      await flush();
    }
    await Promise.all(all);
    expect(store.calls.map(keys)).toEqual([['block'], ['k1', 'k2'], ['n1'], ['k1']]);
    expect(store.calls.map((c) => c.entities[0]?.partitionKey)).toEqual(['20261129-00', '20261129-00', '20261130-00', '20261129-00']);
  });

  it('cuts at 100 entities a transaction', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
    const all = Array.from({ length: 1 + MAX_BATCH_ENTITIES + 5 }, (_, i) => committer.submit('20261129', { rowKey: `r${i}` }));
    for (let i = 0; i < 3; i++) {
      store.calls[i]?.resolve();
      await flush();
    }
    await Promise.all(all);
    expect(store.calls.map((c) => c.entities.length)).toEqual([1, 100, 5]);
  });

  it('cuts before the payload passes about 3 MiB, but always takes at least one row', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
    const big = 'x'.repeat(1024 * 1024); // with its framing, three of these pass 3 MiB
    const all = [
      committer.submit('20261129', { rowKey: 'block' }),
      ...['b1', 'b2', 'b3', 'b4'].map((k) => committer.submit('20261129', { rowKey: k, big })),
      committer.submit('20261129', { rowKey: 'huge', big: 'y'.repeat(4 * 1024 * 1024) }),
    ];
    for (let i = 0; i < 4; i++) {
      store.calls[i]?.resolve();
      await flush();
    }
    await Promise.all(all);
    expect(store.calls.map(keys)).toEqual([['block'], ['b1', 'b2'], ['b3', 'b4'], ['huge']]);
  });

  it('a batch may estimate exactly 3 MiB, not a byte more (the bound as the module builds it, loaded anew: see loadAnew)', async () => {
    const { GroupCommitter: Fresh } = await loadAnew(() => import('../../src/core/audit/group-commit.js'));
    // A row is estimated at its JSON length plus 600 bytes of framing.
    const row = (rowKey: string, estimate: number) => {
      const bare = { rowKey, big: '' };
      return { rowKey, big: 'x'.repeat(estimate - 600 - JSON.stringify(bare).length) };
    };
    const cut = async (total: number): Promise<string[][]> => {
      const store = gatedStore();
      const committer = new Fresh(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
      const first = 2 * 1024 * 1024;
      const all = [committer.submit('20261129', { rowKey: 'block' }), committer.submit('20261129', row('a', first)), committer.submit('20261129', row('b', total - first))];
      for (let i = 0; i < 3; i++) {
        store.calls[i]?.resolve();
        await flush();
      }
      await Promise.all(all);
      return store.calls.map(keys);
    };
    expect(await cut(3 * 1024 * 1024)).toEqual([['block'], ['a', 'b']]);
    expect(await cut(3 * 1024 * 1024 + 1)).toEqual([['block'], ['a'], ['b']]);
  });

  it('is idle only with nothing queued and nothing in flight: rows held back without a write slot keep it busy', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 0 });
    void committer.submit('20261129', { rowKey: 'a' });
    await flush();
    expect(store.calls).toHaveLength(0);
    expect(committer.queued).toBe(1);
    expect(committer.idle).toBe(false);
  });

  it('refuses a row once the queue is full instead of holding it without bound', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1, maxQueued: 2 });
    const accepted = [committer.submit('20261129', { rowKey: 'a' }), committer.submit('20261129', { rowKey: 'b' }), committer.submit('20261129', { rowKey: 'c' })];
    expect(committer.queued).toBe(2);
    const refused = committer.submit('20261129', { rowKey: 'd' });
    await expect(refused).rejects.toBeInstanceOf(AuditBacklogError);
    await expect(refused).rejects.toThrow('audit write queue is full');
    store.calls[0]?.resolve();
    await flush();
    store.calls[1]?.resolve();
    await Promise.all(accepted);
  });

  it('holds 5000 rows by default, then refuses', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
    const rows = Array.from({ length: 5_001 }, (_, i) => committer.submit('20261129', { rowKey: `r${i}` }));
    expect(committer.queued).toBe(5_000);
    const over = committer.submit('20261129', { rowKey: 'over' });
    await expect(over).rejects.toBeInstanceOf(AuditBacklogError);
    // 1 + 5000 rows at 100 a transaction: 51 batches, answered one after the other.
    for (let i = 0; i < 51; i++) {
      store.calls[i]?.resolve();
      await flush();
    }
    expect(committer.idle).toBe(true);
    await Promise.all(rows);
  });
});

describe('GroupCommitter failures', () => {
  it('a failed batch rejects every row in it with the store error, and the next batch still goes', async () => {
    const { store, committer, rows: batch } = await queuedBehindFirstWrite([{ rowKey: 'a' }, { rowKey: 'b' }]);
    const down = new Error('store down');
    store.calls[1]?.reject(down);
    const results = await Promise.allSettled(batch);
    expect(results).toEqual([{ status: 'rejected', reason: down }, { status: 'rejected', reason: down }]);
    const after = committer.submit('20261129', { rowKey: 'after' });
    await flush();
    store.calls[2]?.resolve();
    await expect(after).resolves.toBeUndefined();
  });

  it('a rejection naming an index outside the batch fails the whole batch', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1 });
    const row = committer.submit('20261129', { rowKey: 'a' });
    const err = new EntityRejectedError(3, false);
    store.calls[0]?.reject(err);
    await expect(row).rejects.toBe(err);
    expect(store.calls).toHaveLength(1);
  });

  it('takes a refused row out and retries the rest; a taken key is rewritten under a suffixed key', async () => {
    const { store, rows } = await queuedBehindFirstWrite(['a', 'bad', 'taken', 'z'].map((k) => ({ rowKey: k, v: k })));
    const refusedErr = new EntityRejectedError(1, false);
    store.calls[1]?.reject(refusedErr);
    await flush();
    expect(keys(store.calls[2])).toEqual(['a', 'taken', 'z']);
    store.calls[2]?.reject(new EntityRejectedError(1, true));
    await flush();
    // The retry without it, and the rewrite of the taken row, both in flight.
    const retry = store.calls.find((c, i) => i > 2 && keys(c).length === 2);
    const rekey = store.calls.find((c, i) => i > 2 && keys(c).length === 1);
    expect(keys(retry)).toEqual(['a', 'z']);
    expect(keys(rekey)).toEqual([expect.stringMatching(/^taken_[0-9a-f]{8}$/)]);
    expect(rekey?.entities[0]).toMatchObject({ v: 'taken', partitionKey: '20261129-00' });
    retry?.resolve();
    rekey?.resolve();
    const results = await Promise.allSettled(rows);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBe(refusedErr);
  });

  it('a batch whose every row is refused by index writes nothing more', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1 });
    const row = committer.submit('20261129', { rowKey: 'bad' });
    const err = new EntityRejectedError(0, false);
    store.calls[0]?.reject(err);
    await expect(row).rejects.toBe(err);
    await flush();
    expect(store.calls).toHaveLength(1);
    expect(committer.idle).toBe(true);
  });

  it('a rejection naming the index just past the batch fails the whole batch', async () => {
    const { store, rows } = await queuedBehindFirstWrite([{ rowKey: 'a' }, { rowKey: 'b' }]);
    const err = new EntityRejectedError(2, false);
    store.calls[1]?.reject(err);
    expect(await Promise.allSettled(rows)).toEqual([{ status: 'rejected', reason: err }, { status: 'rejected', reason: err }]);
    expect(store.calls).toHaveLength(2);
  });

  it('a rewritten row whose second write fails is rejected with that error', async () => {
    const store = gatedStore();
    const committer = new GroupCommitter(store, { kind: 'issuance', buckets: 1 });
    const row = committer.submit('20261129', { rowKey: 'taken' });
    store.calls[0]?.reject(new EntityRejectedError(0, true));
    await flush();
    expect(keys(store.calls[1])[0]).toMatch(/^taken_[0-9a-f]{8}$/);
    const again = new Error('still failing');
    store.calls[1]?.reject(again);
    await expect(row).rejects.toBe(again);
  });

  it('names the rejected entity and whether its key exists', () => {
    expect(new EntityRejectedError(4, true).message).toBe('entity 4 of the batch was rejected (key exists)');
    expect(new EntityRejectedError(0, false).message).toBe('entity 0 of the batch was rejected');
    expect(new EntityRejectedError(0, false).name).toBe('EntityRejectedError');
    expect(new AuditBacklogError('x').name).toBe('AuditBacklogError');
  });
});
