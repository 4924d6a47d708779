import { describe, expect, it } from 'vitest';
import { encodePageToken, parseAuditParams } from '../../src/core/audit-api';
import { InvalidRequestError } from '../../src/core/errors';
import { callerMatches, compileAuditors } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { encodeContinuation } from '../../src/core/audit';

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const parse = (query: string) => parseAuditParams(new URLSearchParams(query), NOW, 31);
const HOME = '11111111-1111-1111-1111-111111111111';
const OTHER = '22222222-2222-2222-2222-222222222222';

describe('audit query parameters', () => {
  it('defaults to the last 24 h, 100 rows, no filter', () => {
    expect(parse('')).toEqual({ from: NOW - 86_400_000, to: NOW, filter: {}, limit: 100 });
  });

  it('reads relative and ISO 8601 times, each filter, and the kind of rows an outcome lives in', () => {
    const q = parse('since=7d&until=30m&workspace=analytics-prod&caller=AAAAAAAA-0000-0000-0000-00000000000A&outcome=denied&token_id=abc_1&limit=1000');
    expect(q).toMatchObject({ from: NOW - 7 * 86_400_000, to: NOW - 1_800_000, limit: 1000, kinds: ['refusal'] });
    expect(q.filter).toEqual({ workspace: 'analytics-prod', caller: 'aaaaaaaa-0000-0000-0000-00000000000a', outcome: 'denied', token_id: 'abc_1' });
    expect(parse('since=2026-11-28T06:00:00Z&until=2026-11-29').from).toBe(Date.UTC(2026, 10, 28, 6));
    expect(parse('since=2026-11-28T06:00:00%2B02:00').from).toBe(Date.UTC(2026, 10, 28, 4));
    expect(parse('outcome=audit_read').kinds).toEqual(['issuance']);
  });

  it('refuses what it cannot answer exactly, naming the parameter', () => {
    const cases: [string, RegExp][] = [
      ['since=yesterday', /since must be an ISO 8601/],
      ['since=32d', /more than 31 days/],
      ['since=1h&until=2h', /since must be before until/],
      ['limit=1001', /limit must be/],
      ['limit=-1', /limit must be/],
      ['outcome=ok', /outcome must be one of/],
      ['caller=bob', /caller must be/],
      ['workspace=%00x', /workspace must be/],
      ['token_id=dapi0123456789abcdef01234567', /POST \/api\/audit\/lookup/],
      ['Since=1h', /unknown parameter "Since"/],
      ['outcome=issued&outcome=denied', /more than once/],
      ['continuation=e30', /continuation/],
      [`continuation=${encodePageToken(0, 40 * 86_400_000, encodeContinuation({ rk: '20261129T000000.000Z_x', pk: '20261129-00' }))}`, /continuation/],
    ];
    for (const [query, detail] of cases) {
      expect(() => parse(query), query).toThrow(InvalidRequestError);
      expect(() => parse(query), query).toThrow(detail);
    }
  });

  it('resumes over the range the continuation carries, whatever since says now', () => {
    const after = encodeContinuation({ rk: '20261129T100000.000Z_r1', pk: '20261129-03' });
    const q = parse(`since=1h&continuation=${encodePageToken(NOW - 5 * 3_600_000, NOW - 60_000, after)}`);
    expect(q).toMatchObject({ from: NOW - 5 * 3_600_000, to: NOW - 60_000, resumeAfter: after });
  });
});

describe('auditors', () => {
  const caller = (over: Partial<CallerIdentity>): CallerIdentity => ({ tenantId: HOME, objectId: 'o1', appId: 'a1', roles: [], kind: 'app', name: undefined, ...over });

  it('names no one by default, and matches roles, app ids and object ids in the allowed tenants only', () => {
    expect(compileAuditors(undefined, HOME)).toBeUndefined();
    const auditors = compileAuditors({ callers: { roles: ['Vend.Auditor'], appIds: ['AAAAAAAA-0000-0000-0000-00000000000A'], objectIds: [] }, maxSpanDays: 31 }, HOME);
    if (!auditors) throw new Error('compiled to nothing');
    expect(callerMatches(auditors, caller({ roles: ['Vend.Auditor'] }))).toBe(true);
    expect(callerMatches(auditors, caller({ appId: 'aaaaaaaa-0000-0000-0000-00000000000a' }))).toBe(true);
    expect(callerMatches(auditors, caller({ appId: 'aaaaaaaa-0000-0000-0000-00000000000a', kind: 'user' }))).toBe(false);
    expect(callerMatches(auditors, caller({ roles: ['Vend.Auditor'], tenantId: OTHER }))).toBe(false);
    expect(callerMatches(auditors, caller({ roles: ['Vend.AnalyticsSandbox'] }))).toBe(false);
  });
});
