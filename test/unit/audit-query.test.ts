import { describe, expect, it } from 'vitest';
import { decodeContinuation, encodeContinuation, queryAudit } from '../../src/core/audit';
import type { AuditFilter, AuditQuery, AuditReader, AuditRow } from '../../src/core/audit';
import { timeOfRowKey } from '../../src/core/audit/audit-query';
import { rowKey } from '../../src/core/audit/partition-layout';

// Reading the audit trail (README "Audit API"): newest first, slices that never cross a UTC day,
// one bounded set of partition queries per slice, continuations that resume right after a row.

interface Call {
  readonly pk: string;
  readonly from: string;
  readonly to: string;
  readonly filter: AuditFilter;
}

/** An in-memory store answering partition queries as Table storage does (PartitionKey equality, RowKey range). */
function memoryReader(rows: AuditRow[]): AuditReader & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async *list(pk, from, to, filter) {
      calls.push({ pk, from, to, filter });
      await Promise.resolve();
      for (const row of rows) {
        if (row.partitionKey === pk && row.rowKey >= from && row.rowKey < to && Object.entries(filter).every(([k, v]) => row[k] === v)) yield row;
      }
    },
  };
}

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();
const row = (ms: number, id: string, pk = '20261129-00', extra: Record<string, unknown> = {}): AuditRow => ({ partitionKey: pk, rowKey: rowKey(iso(ms), id), request_id: id, ...extra });

async function ids(reader: AuditReader, query: AuditQuery): Promise<string[]> {
  const out: string[] = [];
  for await (const { row: r } of queryAudit(reader, query)) out.push(String(r.request_id));
  return out;
}

describe('queryAudit', () => {
  it('returns rows of [from, to) newest first, across issuance, refusal and legacy partitions', async () => {
    const reader = memoryReader([
      row(T0 - 1, 'before'),
      row(T0, 'first', '20261129-03'),
      row(T0 + 1_000, 'refused', '20261129-r2'),
      row(T0 + 2_000, 'legacy', '20261129'),
      row(T0 + 3_000, 'at-to', '20261129-07'),
    ]);
    expect(await ids(reader, { from: T0, to: T0 + 3_000 })).toEqual(['legacy', 'refused', 'first']);
    // One slice (15 min by default): the day's 1 + 8 + 4 partitions, each with the slice's RowKey range.
    expect(reader.calls.map((c) => c.pk)).toEqual([
      '20261129', ...Array.from({ length: 8 }, (_, b) => `20261129-0${b}`), ...Array.from({ length: 4 }, (_, b) => `20261129-r${b}`),
    ]);
    expect(new Set(reader.calls.map((c) => `${c.from}|${c.to}`))).toEqual(new Set(['20261129T120000.000Z|20261129T120003.000Z']));
    expect(reader.calls[0]?.filter).toEqual({});
  });

  it('reads only the partitions of the kinds asked for, and passes the filter down', async () => {
    const reader = memoryReader([row(T0, 'i', '20261129-01', { outcome: 'issued' }), row(T0 + 1, 'r', '20261129-r1', { outcome: 'denied' })]);
    expect(await ids(reader, { from: T0, to: T0 + 10, kinds: ['refusal'] })).toEqual(['r']);
    expect(reader.calls.map((c) => c.pk)).toEqual(['20261129', '20261129-r0', '20261129-r1', '20261129-r2', '20261129-r3']);
    reader.calls.length = 0;
    expect(await ids(reader, { from: T0, to: T0 + 10, filter: { outcome: 'issued' } })).toEqual(['i']);
    expect(reader.calls.every((c) => c.filter.outcome === 'issued')).toBe(true);
  });

  it('cuts the range into slices of sliceMs (at least one second), never crossing midnight UTC', async () => {
    const midnight = Date.UTC(2026, 10, 30);
    const reader = memoryReader([row(midnight - 500, 'late', '20261129-00'), row(midnight + 500, 'early', '20261130-00')]);
    expect(await ids(reader, { from: midnight - 2_500, to: midnight + 2_500, sliceMs: 10 })).toEqual(['early', 'late']);
    const ranges = [...new Set(reader.calls.map((c) => `${c.pk.slice(0, 8)} ${c.from} ${c.to}`))];
    expect(ranges).toEqual([
      '20261130 20261130T000001.500Z 20261130T000002.500Z',
      '20261130 20261130T000000.500Z 20261130T000001.500Z',
      '20261130 20261130T000000.000Z 20261130T000000.500Z',
      '20261129 20261129T235959.000Z 20261130T000000.000Z',
      '20261129 20261129T235958.000Z 20261129T235959.000Z',
      '20261129 20261129T235957.500Z 20261129T235958.000Z',
    ]);
  });

  it('reads 15-minute slices by default', async () => {
    const reader = memoryReader([]);
    expect(await ids(reader, { from: T0, to: T0 + 30 * 60_000, kinds: ['issuance'] })).toEqual([]);
    expect([...new Set(reader.calls.map((c) => `${c.from} ${c.to}`))]).toEqual(['20261129T121500.000Z 20261129T123000.000Z', '20261129T120000.000Z 20261129T121500.000Z']);
  });

  it('orders rows of one instant by RowKey, then PartitionKey, both descending', async () => {
    const reader = memoryReader([row(T0, 'a', '20261129-01'), row(T0, 'b', '20261129-00'), row(T0, 'a', '20261129-r1'), row(T0, 'a', '20261129-00')]);
    const out: string[] = [];
    for await (const { row: r } of queryAudit(reader, { from: T0, to: T0 + 1 })) out.push(`${String(r.request_id)}@${r.partitionKey}`);
    expect(out).toEqual(['b@20261129-00', 'a@20261129-r1', 'a@20261129-01', 'a@20261129-00']);
  });

  it('resumes right after the row a continuation names, ties included, and within the original range', async () => {
    const rows = [row(T0, 'a', '20261129-01'), row(T0, 'a', '20261129-00'), row(T0 + 5, 'b'), row(T0 + 9, 'c'), row(T0 - 1, 'old')];
    const reader = memoryReader(rows);
    const all: { id: string; continuation: string }[] = [];
    for await (const { row: r, continuation } of queryAudit(reader, { from: T0, to: T0 + 100 })) all.push({ id: `${String(r.request_id)}@${r.partitionKey}`, continuation });
    expect(all.map((x) => x.id)).toEqual(['c@20261129-00', 'b@20261129-00', 'a@20261129-01', 'a@20261129-00']);
    for (let i = 0; i < all.length; i++) {
      const rest: string[] = [];
      for await (const { row: r } of queryAudit(reader, { from: T0, to: T0 + 100, continuation: all[i]?.continuation })) rest.push(`${String(r.request_id)}@${r.partitionKey}`);
      expect(rest).toEqual(all.slice(i + 1).map((x) => x.id));
    }
    // A continuation never widens the range: its upper bound stays `to`.
    reader.calls.length = 0;
    const late = encodeContinuation({ rk: rowKey(iso(T0 + 50_000), 'z'), pk: '20261129-00' });
    expect(await ids(reader, { from: T0, to: T0 + 6, continuation: late })).toEqual(['b', 'a', 'a']);
    expect(reader.calls[0]?.to).toBe('20261129T120000.006Z');
    // It reads only up to (and including) the millisecond of the row it names.
    reader.calls.length = 0;
    await ids(reader, { from: T0, to: T0 + 100, continuation: all[1]?.continuation });
    expect(reader.calls[0]?.to).toBe('20261129T120000.006Z');
  });

  it('reads slices ahead in parallel but yields them whole and in order', async () => {
    const reader = memoryReader(Array.from({ length: 6 }, (_, i) => row(T0 + i * 1_000, `r${i}`)));
    const seen: string[] = [];
    const gen = queryAudit(reader, { from: T0, to: T0 + 6_000, sliceMs: 1_000, readAhead: 3, kinds: ['issuance'] });
    const first = await gen.next();
    if (first.done) throw new Error('expected a row');
    seen.push(String(first.value.row.request_id));
    // The first slice is yielded while three slices have been asked for.
    expect(new Set(reader.calls.map((c) => c.from)).size).toBe(3);
    for await (const { row: r } of gen) seen.push(String(r.request_id));
    expect(seen).toEqual(['r5', 'r4', 'r3', 'r2', 'r1', 'r0']);
  });

  it('reads one slice at a time by default', async () => {
    const reader = memoryReader(Array.from({ length: 3 }, (_, i) => row(T0 + i * 1_000, `r${i}`)));
    const gen = queryAudit(reader, { from: T0, to: T0 + 3_000, sliceMs: 1_000, kinds: ['issuance'] });
    await gen.next();
    expect(new Set(reader.calls.map((c) => c.from)).size).toBe(1);
    await gen.return(undefined);
  });

  it('a failing read ahead the consumer never reaches is not an unhandled rejection; one it reaches throws', async () => {
    const midnight = Date.UTC(2026, 10, 29);
    let failed = (): void => undefined;
    const prefetchFailed = new Promise<void>((r) => (failed = r));
    const failing: AuditReader = {
      async *list(pk) {
        await Promise.resolve();
        if (pk.startsWith('20261128')) {
          failed();
          throw new Error('store down');
        }
        if (pk === '20261129-00') yield row(midnight + 10, 'today');
      },
    };
    const query = { from: midnight - 1_000, to: midnight + 1_000, readAhead: 2, kinds: ['issuance' as const] };
    for await (const { row: r } of queryAudit(failing, query)) {
      expect(r.request_id).toBe('today');
      break;
    }
    // The abandoned prefetch has failed; an unhandled rejection would fail the run.
    await prefetchFailed;
    await new Promise((r) => setImmediate(r));
    await expect(ids(failing, query)).rejects.toThrow('store down');
  });

  it('returns nothing for an empty range', async () => {
    const reader = memoryReader([row(T0, 'a')]);
    expect(await ids(reader, { from: T0, to: T0 })).toEqual([]);
    expect(reader.calls).toEqual([]);
  });
});

describe('continuations', () => {
  it('round-trip a position and refuse anything this module did not write', () => {
    const position = { rk: rowKey(iso(T0), 'req'), pk: '20261129-r3' };
    expect(decodeContinuation(encodeContinuation(position))).toEqual(position);
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
    for (const bad of [enc({ rk: position.rk, pk: 'x' }), enc([position.rk]), enc([position.rk, 'x', 'y']), enc([1, 'x']), enc([position.rk, 2]), enc(['not-a-time', 'x']), enc([[position.rk], 'x'])]) {
      expect(() => decodeContinuation(bad)).toThrow('not an audit continuation');
    }
    expect(() => decodeContinuation('%%%')).toThrow();
  });

  it('read the time of a RowKey to the millisecond', () => {
    expect(timeOfRowKey('20261129T201022.123Z_req')).toBe(Date.UTC(2026, 10, 29, 20, 10, 22, 123));
    expect(timeOfRowKey('x20261129T201022.123Z')).toBeNaN();
    expect(timeOfRowKey('20261129T2010')).toBeNaN();
  });
});
