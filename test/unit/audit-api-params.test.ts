import { describe, expect, it } from 'vitest';
import { encodeContinuation } from '../../src/core/audit';
import { encodePageToken, parseAuditParams, parseRange } from '../../src/core/audit-api';
import { InvalidRequestError } from '../../src/core/errors';
import { loadAnew } from '../support/load-anew';

// The exact shapes GET /api/audit accepts for each query parameter, at their bounds: a value the
// rules refuse is a 400 naming the parameter, never read as something else (a time zone left
// out, a pasted token taken for an id, a page size or window past the bound).

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const H = 3_600_000;
const DAY = 24 * H;
const parse = (query: string, span = 31) => parseAuditParams(new URLSearchParams(query), NOW, span);
const detailOf = (run: () => unknown): string => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return (err as InvalidRequestError).detail ?? '';
  }
  throw new Error('accepted');
};
const AFTER = encodeContinuation({ rk: '20261129T100000.000Z_r1', pk: '20261129-03' });

describe('audit query: times', () => {
  it('accepts ISO 8601 dates and date-times with a zone, to the minute, second or nanosecond', () => {
    const ok: [string, number][] = [
      ['2026-11-29', Date.UTC(2026, 10, 29)],
      ['2026-11-29T08:00Z', Date.UTC(2026, 10, 29, 8)],
      ['2026-11-29T08:00:30Z', Date.UTC(2026, 10, 29, 8, 0, 30)],
      ['2026-11-29T08:00:30.5Z', Date.UTC(2026, 10, 29, 8, 0, 30, 500)],
      ['2026-11-29T08:00:30.123456789Z', Date.UTC(2026, 10, 29, 8, 0, 30, 123)],
      ['2026-11-29T08:00:00-01:30', Date.UTC(2026, 10, 29, 9, 30)],
      ['2026-11-29T08:00+02:00', Date.UTC(2026, 10, 29, 6)],
    ];
    for (const [text, ms] of ok) expect(parse(`since=${encodeURIComponent(text)}`).from, text).toBe(ms);
  });

  it('refuses what the platform would parse but not as asked: no zone (local time), lowercase z, other separators, extra digits', () => {
    const refused = [
      '2026-11-29T08:00:00', '2026-11-29 08:00', '2026-11-29 08:00Z', '2026-11-29T08:00:00z', '2026-11-29T08:00:00+0200',
      '2026-11-29T08:00:00.1234567890Z', '12026-11-29', '+2026-11-29', '2026-1-29', '2026-11-29T8:00Z', '2026-11-29T08:00:00.Z',
      '20261129', '1', 'm', '5s', '1hx', 'x1h', '100000m',
    ];
    for (const text of refused) {
      expect(detailOf(() => parse(`since=${encodeURIComponent(text)}`)), text).toBe('since must be an ISO 8601 time (2026-11-29T08:00:00Z) or a relative one (30m, 24h, 7d)');
      expect(detailOf(() => parse(`until=${encodeURIComponent(text)}`)), text).toMatch(/^until must be an ISO 8601 time/);
    }
  });

  it('reads minutes, hours and days back from now, with up to five digits', () => {
    expect(parse('since=90m').from).toBe(NOW - 90 * 60_000);
    expect(parse('since=5h').from).toBe(NOW - 5 * H);
    expect(parse('since=3d').from).toBe(NOW - 3 * DAY);
    expect(parse('since=99999m', 100).from).toBe(NOW - 99_999 * 60_000);
    expect(parse('until=0m&since=1h')).toMatchObject({ from: NOW - H, to: NOW });
  });

  it('a window may span exactly the maximum, not a millisecond more, and must not be empty', () => {
    expect(parseRange('2026-11-01T00:00:00Z', '2026-11-08T00:00:00Z', NOW, 7, DAY)).toEqual({ from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 8) });
    expect(detailOf(() => parseRange('2026-11-01T00:00:00Z', '2026-11-08T00:00:00.001Z', NOW, 7, DAY))).toBe('since..until spans more than 7 days, the most one query may read');
    expect(detailOf(() => parseRange('1h', '1h', NOW, 7, DAY))).toBe('since must be before until');
    expect(parseRange('61m', '1h', NOW, 7, DAY)).toEqual({ from: NOW - 61 * 60_000, to: NOW - H });
  });

  it('without since, reads the default span back from until, cut to the maximum span', () => {
    expect(parseRange(undefined, undefined, NOW, 31, 2 * H)).toEqual({ from: NOW - 2 * H, to: NOW });
    expect(parseRange(undefined, '1h', NOW, 3, 10 * DAY)).toEqual({ from: NOW - H - 3 * DAY, to: NOW - H });
  });
});

describe('audit query: filters', () => {
  it('caller is a GUID (any case, stored lower case) and nothing around it', () => {
    const guid = 'AbCdEf01-2345-6789-abcd-ef0123456789';
    expect(parse(`caller=${guid}`).filter).toEqual({ caller: guid.toLowerCase() });
    const refused = [`x${guid}`, `${guid}x`, guid.slice(1), guid.replace(/-/g, ''), guid.replace('A', 'g'), `{${guid}}`, `${guid.slice(0, 8)}-${guid.slice(9)}0`];
    for (const c of refused) expect(detailOf(() => parse(`caller=${encodeURIComponent(c)}`)), c).toBe('caller must be an object id or app id (a GUID)');
  });

  it('token_id is 1-128 of letters, digits, _ and -', () => {
    const ok = ['a', 'Z', '0', '_', '-', 'Az09_-', 'x'.repeat(128)];
    for (const t of ok) expect(parse(`token_id=${t}`).filter, t).toEqual({ token_id: t });
    for (const t of ['x'.repeat(129), 'a.b', 'a b', 'é', '', 'a/b', '.ab', 'ab.']) {
      expect(detailOf(() => parse(`token_id=${encodeURIComponent(t)}`)), t).toBe('token_id must be 1-128 of [A-Za-z0-9_-]');
    }
  });

  it('a token_id shaped like a PAT (dapi and 16 or more hex, any case) is refused as a pasted token', () => {
    const pasted = /^token_id looks like a token itself; find a token by POST \/api\/audit\/lookup/;
    for (const t of ['dapi0123456789abcdef', 'DAPI0123456789ABCDEF', 'dapi0123456789abcdef0123456789abcdef-2', 'dapi0123456789abcdefXYZ']) expect(detailOf(() => parse(`token_id=${t}`)), t).toMatch(pasted);
    for (const t of ['dapi0123456789abcde', 'xdapi0123456789abcdef', 'dapi0123456789abcdeg', 'dap0123456789abcdef0']) expect(parse(`token_id=${t}`).filter, t).toEqual({ token_id: t });
  });

  it('workspace follows the config name rule; outcome is one of the audit outcomes and picks the rows it lives in', () => {
    expect(parse('workspace=a').filter).toEqual({ workspace: 'a' });
    expect(detailOf(() => parse('workspace=-a'))).toBe('workspace must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit');
    expect(parse('outcome=issued').kinds).toEqual(['issuance']);
    expect(parse('outcome=failed').kinds).toEqual(['refusal']);
    expect(parse('outcome=denied').kinds).toEqual(['refusal']);
    expect(detailOf(() => parse('outcome=Issued'))).toMatch(/^outcome must be one of issued, /);
    expect(parse('workspace=a')).not.toHaveProperty('kinds');
  });

  it('an unknown parameter is named (cut to 40 characters) with the known ones listed', () => {
    const name = `p${'x'.repeat(60)}`;
    expect(detailOf(() => parse(`${name}=1`))).toBe(`unknown parameter "${name.slice(0, 40)}" (known: since, until, workspace, caller, outcome, token_id, limit, continuation)`);
    expect(detailOf(() => parse('limit=5&limit=5'))).toBe('limit is given more than once');
  });
});

describe('audit query: page size and continuation', () => {
  it('limit is a whole number from 1 to 1000', () => {
    for (const [text, n] of [['1', 1], ['1000', 1000], ['0999', 999], ['42', 42]] as const) expect(parse(`limit=${text}`).limit, text).toBe(n);
    for (const text of ['0', '1001', '10000', '00001', '1.5', '1e3', 'x1', '1x', ' 5', '']) {
      expect(detailOf(() => parse(`limit=${encodeURIComponent(text)}`)), text).toBe('limit must be a whole number from 1 to 1000');
    }
  });

  it('a continuation carries its range, checked again: non-empty, within the maximum span, a real position', () => {
    const token = (f: unknown, t: unknown, a: unknown) => Buffer.from(JSON.stringify({ f, t, a })).toString('base64url');
    expect(parse(`continuation=${token(NOW - 7 * DAY, NOW, AFTER)}`, 7)).toMatchObject({ from: NOW - 7 * DAY, to: NOW, resumeAfter: AFTER });
    expect(parse(`continuation=${token(NOW - 1, NOW, AFTER)}`, 7)).toMatchObject({ from: NOW - 1, to: NOW });
    const refused = [
      token(NOW - 7 * DAY - 1, NOW, AFTER), token(NOW, NOW, AFTER), token(NOW + 1, NOW, AFTER), token(String(NOW - 1), NOW, AFTER), token(NOW - 1, String(NOW), AFTER),
      token(NOW - 1, NOW, 42), token(NOW - 1, NOW, 'not-a-position'), token(NOW - 1, NOW, encodeContinuation({ rk: 'no time', pk: 'p' })), 'bm90IGpzb24', '',
    ];
    for (const c of refused) expect(detailOf(() => parse(`continuation=${c}`, 7)), c).toBe('continuation is not one this API returned');
  });

  it('a continuation whose position is not a string is refused, even one whose bytes spell a real position', () => {
    const forged = Buffer.from(JSON.stringify({ f: NOW - 1, t: NOW, a: [...Buffer.from(JSON.stringify(['20261129T100000.000Z_r1', '20261129-03']))] })).toString('base64url');
    expect(detailOf(() => parse(`continuation=${forged}`, 7))).toBe('continuation is not one this API returned');
  });

  it('a continuation may be up to 2048 characters long, no longer', () => {
    const long = (n: number) => {
      for (let pad = 0; pad < 2000; pad += 1) {
        const t = encodePageToken(NOW - H, NOW, encodeContinuation({ rk: `20261129T100000.000Z_${'r'.repeat(pad)}`, pk: '20261129-03' }));
        if (t.length >= n) return t;
      }
      throw new Error('no token that long');
    };
    const at = long(2048);
    const over = long(2050);
    expect(at).toHaveLength(2048);
    expect(parse(`continuation=${at}`).resumeAfter).toMatch(/^\S+$/);
    expect(over.length).toBeGreaterThan(2048);
    expect(detailOf(() => parse(`continuation=${over}`))).toBe('continuation is not one this API returned');
  });
});

// The shape checks are functions built when the module loads: loaded anew here (see loadAnew), so
// that each is built with the mutation test's switch on.
describe('audit query: the shape checks as the module builds them', () => {
  it('each accepted shape passes: a GUID caller, a token id, an ISO or relative time; a PAT-shaped token_id is refused', async () => {
    const { parseAuditParams: fresh } = await loadAnew(() => import('../../src/core/audit-api/audit-params.js'));
    const parsed = fresh(new URLSearchParams('caller=AAAAAAAA-0000-4000-8000-00000000000A&token_id=tok-1&since=2026-11-29T08:00Z&until=30m'), NOW, 31);
    expect(parsed).toMatchObject({ from: Date.UTC(2026, 10, 29, 8), to: NOW - 30 * 60_000, filter: { caller: 'aaaaaaaa-0000-4000-8000-00000000000a', token_id: 'tok-1' } });
    expect(() => fresh(new URLSearchParams(`token_id=dapi${'0a'.repeat(8)}`), NOW, 31)).toThrow('token_id looks like a token itself');
  });
});
