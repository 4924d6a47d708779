import type { AuditRecord } from './audit-record';

/**
 * Where audit rows live (README "Audit record"). Every UTC day has two disjoint sets of partitions:
 * `YYYYMMDD-00` … `-07` for decisions that must be durable before they act (issued, revoked), and
 * `YYYYMMDD-r0` … `-r3` for refusals, written in the background. Issuance and refusal rows never
 * share a partition, so a flood of refusals cannot throttle the partitions issuance waits on.
 * Rows written before this layout sit in the bare `YYYYMMDD` partition; queries read it too.
 */
export const ISSUANCE_BUCKETS = 8;
export const REFUSAL_BUCKETS = 4;

export type RowKind = 'issuance' | 'refusal';

/** `issued`, `revoked` and `audit_read` act only once recorded; everything else is a refusal. */
export function kindOf(outcome: AuditRecord['outcome']): RowKind {
  // Grant changes and audit reads are written like issuances: awaited (no record, no action), never bounded or summarized.
  return outcome === 'issued' || outcome === 'revoked' || outcome === 'audit_read' || outcome.startsWith('grant_') ? 'issuance' : 'refusal';
}

/** `2026-11-29T20:10:22.123Z` → `20261129`. */
export function dayOf(isoTime: string): string {
  return isoTime.slice(0, 10).replace(/-/g, '');
}

export function partitionKey(day: string, kind: RowKind, bucket: number): string {
  return kind === 'issuance' ? `${day}-${String(bucket).padStart(2, '0')}` : `${day}-r${bucket}`;
}

/** Every partition that can hold a row of `day`, legacy one included: the bounded set a day's query reads. */
export function partitionsOfDay(day: string, kinds: readonly RowKind[] = ['issuance', 'refusal']): string[] {
  const buckets = (kind: RowKind, count: number): string[] => (kinds.includes(kind) ? Array.from({ length: count }, (_, b) => partitionKey(day, kind, b)) : []);
  return [day, ...buckets('issuance', ISSUANCE_BUCKETS), ...buckets('refusal', REFUSAL_BUCKETS)];
}

/** Sortable time + request id: `20261129T201022.123Z_<request id>`; lexical order is time order. */
export function rowKey(isoTime: string, requestId: string, suffix = ''): string {
  return `${isoTime.replace(/[-:]/g, '')}_${requestId}${suffix}`;
}

/** The RowKey prefix of an instant, for range bounds (`ge` / `lt`) in queries. */
export function rowKeyTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}
