import { describe, expect, it } from 'vitest';
import { AUDIT_OUTCOMES, ISSUANCE_BUCKETS, REFUSAL_BUCKETS, kindOf, partitionsOfDay } from '../../src/core/audit';
import { dayOf, partitionKey, rowKey, rowKeyTime } from '../../src/core/audit/partition-layout';

// Where audit rows live (README "Audit record"): the partition names a query and an operator rely on.

describe('partition layout', () => {
  it('writes issued, revoked, audit reads and every grant change like issuances; everything else is a refusal', () => {
    const issuance = AUDIT_OUTCOMES.filter((o) => kindOf(o) === 'issuance');
    expect([...issuance].sort()).toEqual(['audit_read', 'grant_approved', 'grant_created', 'grant_declined', 'grant_renewed', 'grant_requested', 'grant_revoked', 'issued', 'revoked']);
    expect(kindOf('denied')).toBe('refusal');
    expect(kindOf('failed')).toBe('refusal');
  });

  it('names a day by its UTC date and each bucket after it', () => {
    expect(dayOf('2026-11-29T20:10:22.123Z')).toBe('20261129');
    expect(partitionKey('20261129', 'issuance', 0)).toBe('20261129-00');
    expect(partitionKey('20261129', 'issuance', 7)).toBe('20261129-07');
    expect(partitionKey('20261129', 'issuance', 12)).toBe('20261129-12');
    expect(partitionKey('20261129', 'refusal', 3)).toBe('20261129-r3');
  });

  it('lists every partition a day can hold: legacy, 8 issuance and 4 refusal buckets, or the kinds asked for', () => {
    expect(ISSUANCE_BUCKETS).toBe(8);
    expect(REFUSAL_BUCKETS).toBe(4);
    expect(partitionsOfDay('20261129')).toEqual([
      '20261129', '20261129-00', '20261129-01', '20261129-02', '20261129-03', '20261129-04', '20261129-05', '20261129-06', '20261129-07',
      '20261129-r0', '20261129-r1', '20261129-r2', '20261129-r3',
    ]);
    expect(partitionsOfDay('20261129', ['issuance'])).toHaveLength(9);
    expect(partitionsOfDay('20261129', ['refusal'])).toEqual(['20261129', '20261129-r0', '20261129-r1', '20261129-r2', '20261129-r3']);
    expect(partitionsOfDay('20261129', [])).toEqual(['20261129']);
  });

  it('keys rows by time then request id, so lexical order is time order', () => {
    expect(rowKey('2026-11-29T20:10:22.123Z', 'req-1')).toBe('20261129T201022.123Z_req-1');
    expect(rowKey('2026-11-29T20:10:22.123Z', 'req-1', '_x')).toBe('20261129T201022.123Z_req-1_x');
    expect(rowKeyTime(Date.UTC(2026, 10, 29, 20, 10, 22, 123))).toBe('20261129T201022.123Z');
    expect(rowKeyTime(Date.UTC(2026, 10, 29, 20, 10, 22, 123)) < rowKey('2026-11-29T20:10:22.123Z', 'a')).toBe(true);
  });
});
