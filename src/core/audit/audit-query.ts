import { dayOf, partitionsOfDay, rowKeyTime } from './partition-layout';
import type { RowKind } from './partition-layout';

/** Equality filters a query may add; each is pushed down to the store with the partition query. */
export interface AuditFilter {
  readonly outcome?: string;
  readonly caller_tid?: string;
  readonly caller_oid?: string;
  readonly caller_appid?: string;
  readonly workspace?: string;
  readonly request_id?: string;
  readonly token_id?: string;
  readonly token_fingerprint?: string;
  /** Either caller id: rows whose caller_oid or caller_appid equals it. */
  readonly caller?: string;
}

export interface AuditQuery {
  /** Inclusive lower bound (ms since epoch). */
  readonly from: number;
  /** Exclusive upper bound (ms since epoch). */
  readonly to: number;
  readonly filter?: AuditFilter;
  /** Issuance rows, refusal rows (summaries included), or both (default). */
  readonly kinds?: readonly RowKind[];
  /** From a previous result: resume just after that row. */
  readonly continuation?: string;
  /** Time slice read at once (all its partitions), newest slice first; bounds memory. Default 15 min. */
  readonly sliceMs?: number;
  /** How many slices may be read at once (default 1): fewer round trips, more rows held. */
  readonly readAhead?: number;
}

export type AuditRow = Readonly<Record<string, unknown>> & { readonly partitionKey: string; readonly rowKey: string };

/** One partition query: rows of `partitionKey` with `rowKeyFrom <= RowKey < rowKeyTo` and the filter. */
export interface AuditReader {
  list(partitionKey: string, rowKeyFrom: string, rowKeyTo: string, filter: AuditFilter): AsyncIterable<AuditRow>;
}

interface Position {
  readonly rk: string;
  readonly pk: string;
}

/**
 * Rows of a time range, newest first, each with a continuation that resumes right after it.
 * The range is read in slices that never cross a UTC day; each slice is one query per partition
 * of its day (issuance buckets, refusal buckets, the legacy day partition): a bounded set, each
 * a PartitionKey equality plus a RowKey range, which Table storage serves without a scan. A
 * slice's partitions are read side by side, and `readAhead` slices may be in flight at once.
 */
export async function* queryAudit(reader: AuditReader, query: AuditQuery): AsyncGenerator<{ row: AuditRow; continuation: string }> {
  const after = query.continuation ? decodeContinuation(query.continuation) : undefined;
  const slice = Math.max(1_000, query.sliceMs ?? 15 * 60_000);
  const hi = after ? Math.min(query.to, timeOfRowKey(after.rk) + 1) : query.to;
  const ranges = sliceRanges(query.from, hi, slice);
  // Up to `readAhead` slices are in flight at once; each is still yielded whole and in order.
  const ahead = Math.max(1, query.readAhead ?? 1);
  const pending: Promise<AuditRow[]>[] = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i++) {
    while (pending.length < ahead && next < ranges.length) {
      const read = readSlice(reader, query, ranges[next++]);
      read.catch(() => undefined); // a prefetch the consumer never reaches must not be an unhandled rejection
      pending.push(read);
    }
    for (const row of await (pending.shift() as Promise<AuditRow[]>)) {
      if (after && compare(row, after) >= 0) continue;
      yield { row, continuation: encodeContinuation({ rk: row.rowKey, pk: row.partitionKey }) };
    }
  }
}

/** [lo, hi) slices from `to` down to `from`, newest first, none crossing a UTC day. */
function sliceRanges(from: number, to: number, slice: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let hi = to; hi > from; ) {
    const d = new Date(hi - 1);
    const lo = Math.max(from, Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()), hi - slice);
    ranges.push([lo, hi]);
    hi = lo;
  }
  return ranges;
}

/** One slice: its day's partitions read side by side, rows newest first. */
async function readSlice(reader: AuditReader, query: AuditQuery, [lo, hi]: [number, number]): Promise<AuditRow[]> {
  const perPartition = await Promise.all(
    partitionsOfDay(dayOf(new Date(lo).toISOString()), query.kinds).map(async (pk) => {
      const found: AuditRow[] = [];
      for await (const row of reader.list(pk, rowKeyTime(lo), rowKeyTime(hi), query.filter ?? {})) found.push(row);
      return found;
    }),
  );
  return perPartition.flat().sort((a, b) => compare(b, a));
}

function positionOf(x: Position | AuditRow): [string, string] {
  return 'rowKey' in x ? [x.rowKey, x.partitionKey] : [x.rk, x.pk];
}

/** Newest first means RowKey descending, then PartitionKey descending to break ties. */
function compare(a: Position | AuditRow, b: Position | AuditRow): number {
  const [ark, apk] = positionOf(a);
  const [brk, bpk] = positionOf(b);
  return ark < brk ? -1 : ark > brk ? 1 : apk < bpk ? -1 : apk > bpk ? 1 : 0;
}

export function encodeContinuation(p: Position): string {
  return Buffer.from(JSON.stringify([p.rk, p.pk]), 'utf8').toString('base64url');
}

/** Throws on anything that is not a continuation this module wrote. */
export function decodeContinuation(text: string): Position {
  const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') throw new Error('not an audit continuation');
  if (Number.isNaN(timeOfRowKey(value[0]))) throw new Error('not an audit continuation');
  return { rk: value[0], pk: value[1] };
}

/** `20261129T201022.123Z_…` → ms since epoch (NaN if the key does not start with a time). */
export function timeOfRowKey(rk: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z/.exec(rk);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]) : Number.NaN;
}
