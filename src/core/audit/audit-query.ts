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
 * a PartitionKey equality plus a RowKey range, which Table storage serves without a scan.
 */
export async function* queryAudit(reader: AuditReader, query: AuditQuery): AsyncGenerator<{ row: AuditRow; continuation: string }> {
  const after = query.continuation ? decodeContinuation(query.continuation) : undefined;
  const slice = Math.max(1_000, query.sliceMs ?? 15 * 60_000);
  let hi = after ? Math.min(query.to, timeOfRowKey(after.rk) + 1) : query.to;
  while (hi > query.from) {
    const dayStart = Date.UTC(new Date(hi - 1).getUTCFullYear(), new Date(hi - 1).getUTCMonth(), new Date(hi - 1).getUTCDate());
    const lo = Math.max(query.from, dayStart, hi - slice);
    const rows: AuditRow[] = [];
    for (const pk of partitionsOfDay(dayOf(new Date(lo).toISOString()), query.kinds)) {
      for await (const row of reader.list(pk, rowKeyTime(lo), rowKeyTime(hi), query.filter ?? {})) rows.push(row);
    }
    rows.sort((a, b) => compare(b, a));
    for (const row of rows) {
      if (after && compare(row, after) >= 0) continue;
      yield { row, continuation: encodeContinuation({ rk: row.rowKey, pk: row.partitionKey }) };
    }
    hi = lo;
  }
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
