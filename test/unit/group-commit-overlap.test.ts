import { describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/core/audit/group-commit';
import type { BatchWriter } from '../../src/core/audit/group-commit';

/** A store whose batches return only when the test says so; `events` is what happened, in order. */
function steppedStore() {
  const events: string[] = [];
  const open: (() => void)[] = [];
  const writer: BatchWriter = {
    insertBatch: (entities) =>
      new Promise<void>((resolve) => {
        events.push(`write ${entities.map((e) => e.rowKey).join(',')}`);
        open.push(resolve);
      }),
  };
  return { writer, events, returnNext: () => open.shift()?.() };
}

const DAY = '20261130';

describe('group commit: the next batch overlaps the replies of the last', () => {
  it('sends the rows that waited before the returned batch’s callers are answered', async () => {
    const store = steppedStore();
    const committer = new GroupCommitter(store.writer, { kind: 'issuance', buckets: 1 });
    const a = committer.submit(DAY, { rowKey: 'a' }).then(() => store.events.push('a answered'));
    const b = committer.submit(DAY, { rowKey: 'b' }).then(() => store.events.push('b answered'));
    const c = committer.submit(DAY, { rowKey: 'c' }).then(() => store.events.push('c answered'));
    expect(store.events).toEqual(['write a']);
    store.returnNext();
    await a;
    expect(store.events).toEqual(['write a', 'write b,c', 'a answered']);
    store.returnNext();
    await Promise.all([b, c]);
    expect(store.events).toEqual(['write a', 'write b,c', 'a answered', 'b answered', 'c answered']);
  });

  it('answers a caller only once its own batch is durable, though the slot is already the next batch’s', async () => {
    const store = steppedStore();
    const committer = new GroupCommitter(store.writer, { kind: 'issuance', buckets: 1 });
    let bAnswered = false;
    void committer.submit(DAY, { rowKey: 'a' });
    const b = committer.submit(DAY, { rowKey: 'b' }).then(() => (bAnswered = true));
    store.returnNext();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(store.events).toEqual(['write a', 'write b']);
    expect(bAnswered).toBe(false);
    store.returnNext();
    await b;
    expect(bAnswered).toBe(true);
  });

  it('fails every caller of a failed batch and still sends the rows that waited behind it', async () => {
    const events: string[] = [];
    let calls = 0;
    const writer: BatchWriter = {
      insertBatch: (entities) => {
        events.push(`write ${entities.map((e) => e.rowKey).join(',')}`);
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('store unavailable')) : Promise.resolve();
      },
    };
    const committer = new GroupCommitter(writer, { kind: 'issuance', buckets: 1 });
    const a = committer.submit(DAY, { rowKey: 'a' });
    const b = committer.submit(DAY, { rowKey: 'b' });
    await expect(a).rejects.toThrow('store unavailable');
    await expect(b).resolves.toBeUndefined();
    expect(events).toEqual(['write a', 'write b']);
  });
});
