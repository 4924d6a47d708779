import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { RefusalRecorder } from '../../src/core/audit/refusal-recorder';
import type { RefusalQueue } from '../../src/core/audit/refusal-recorder';

/** A queue that keeps what it is given; `queued` is what it reports as waiting. */
function fakeQueue(): RefusalQueue & { rows: Record<string, unknown>[]; waiting: number } {
  const q = {
    rows: [] as Record<string, unknown>[],
    waiting: 0,
    get queued() {
      return q.waiting;
    },
    submit: (_day: string, row: Record<string, unknown>) => (q.rows.push(row), Promise.resolve()),
  };
  return q;
}

const refusal = (i: number, who: Partial<AuditRecord>): AuditRecord => ({
  request_id: `r${i}`,
  time: new Date(Date.UTC(2026, 10, 29, 12)).toISOString(),
  outcome: 'denied',
  status: 401,
  code: 'invalid_token',
  latency_ms: 1,
  ...who,
});

describe('RefusalRecorder', () => {
  it('a new minute for a key writes the last minute summary first, then rows again', () => {
    const queue = fakeQueue();
    let now = 0;
    const rec = new RefusalRecorder(queue, { now: () => now, perKeyPerMinute: 2 });
    for (let i = 0; i < 5; i++) rec.record(refusal(i, { source_ip: '192.0.2.1' }));
    now = 60_000;
    rec.record(refusal(9, { source_ip: '192.0.2.1' }));
    expect(queue.rows.map((r) => [r.outcome, r.suppressed_count ?? r.request_id])).toEqual([
      ['denied', 'r0'],
      ['denied', 'r1'],
      ['refusals_summary', 3],
      ['denied', 'r9'],
    ]);
  });

  it('keeps memory bounded: past maxKeys, new keys share one overflow window with no identity on it', () => {
    const queue = fakeQueue();
    const rec = new RefusalRecorder(queue, { now: () => 0, perKeyPerMinute: 1, maxKeys: 3 });
    for (let i = 0; i < 50; i++) rec.record(refusal(i, { source_ip: `198.51.100.${i}` }));
    expect(queue.rows).toHaveLength(3 + 1);
    rec.sweep(true);
    const summary = queue.rows.find((r) => r.outcome === 'refusals_summary');
    expect(summary).toMatchObject({ suppressed_count: 46, codes: 'invalid_token=46' });
    expect(summary?.source_ip).toBeUndefined();
  });

  it('counts a refusal instead of queueing it when the background queue is full', () => {
    const queue = fakeQueue();
    queue.waiting = 1_000;
    const rec = new RefusalRecorder(queue, { now: () => 0, maxQueued: 1_000 });
    rec.record(refusal(1, { caller_tid: 't', caller_oid: 'o' }));
    expect(queue.rows).toEqual([]);
    queue.waiting = 0;
    rec.sweep(true);
    expect(queue.rows).toEqual([expect.objectContaining({ outcome: 'refusals_summary', suppressed_count: 1, caller_oid: 'o', caller_tid: 't' })]);
  });
});
