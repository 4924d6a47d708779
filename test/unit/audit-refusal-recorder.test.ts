import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { RefusalRecorder, withoutUndefined } from '../../src/core/audit/refusal-recorder';
import type { RefusalQueue } from '../../src/core/audit/refusal-recorder';
import { loadAnew } from '../support/load-anew';

// The bounds on refusal rows (README "Audit record"): per caller or client address and minute,
// a summary row once the minute is over, memory bounded, never a wait for the answer.

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0, 0);

function queue(): RefusalQueue & { rows: Record<string, unknown>[]; days: string[]; waiting: number; fail?: Error } {
  const q = {
    rows: [] as Record<string, unknown>[],
    days: [] as string[],
    waiting: 0,
    fail: undefined as Error | undefined,
    get queued() {
      return q.waiting;
    },
    submit: (day: string, row: Record<string, unknown>) => {
      q.days.push(day);
      q.rows.push(row);
      return q.fail ? Promise.reject(q.fail) : Promise.resolve();
    },
  };
  return q;
}

function refusal(id: string, who: Partial<AuditRecord> = {}, time = new Date(T0).toISOString()): AuditRecord {
  return { request_id: id, time, outcome: 'denied', status: 403, code: 'not_granted', latency_ms: 2, ...who };
}

const summaries = (rows: Record<string, unknown>[]): Record<string, unknown>[] => rows.filter((r) => r.outcome === 'refusals_summary');

describe('RefusalRecorder rows', () => {
  it('writes the refusal itself, without undefined fields, keyed by time and request id, on its day', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0 });
    rec.record(refusal('req-1', { caller_tid: 't', caller_oid: 'o', workspace: undefined }));
    expect(q.days).toEqual(['20261129']);
    expect(q.rows).toEqual([
      { rowKey: '20261129T120000.000Z_req-1', request_id: 'req-1', time: new Date(T0).toISOString(), outcome: 'denied', status: 403, code: 'not_granted', latency_ms: 2, caller_tid: 't', caller_oid: 'o' },
    ]);
  });

  it('writes 3 rows per key a minute by default, then counts', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0 });
    for (let i = 0; i < 5; i++) rec.record(refusal(`r${i}`, { source_ip: '192.0.2.1' }));
    expect(q.rows.map((r) => r.request_id)).toEqual(['r0', 'r1', 'r2']);
    rec.sweep(true);
    expect(summaries(q.rows)).toEqual([expect.objectContaining({ suppressed_count: 2, source_ip: '192.0.2.1' })]);
  });

  it('keys a caller by tenant and object id, else by client address, else one anonymous key', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0, perKeyPerMinute: 1 });
    // Same object id in two tenants: two callers. An app id alone does not make a key.
    rec.record(refusal('a1', { caller_tid: 't1', caller_oid: 'o' }));
    rec.record(refusal('a2', { caller_tid: 't2', caller_oid: 'o' }));
    rec.record(refusal('a3', { caller_oid: 'o' }));
    rec.record(refusal('b1', { source_ip: '192.0.2.1', caller_appid: 'app' }));
    rec.record(refusal('b2', { source_ip: '192.0.2.2' }));
    rec.record(refusal('c1'));
    rec.record(refusal('c2', { caller_appid: 'app' }));
    // An identity wins over the address it came from.
    rec.record(refusal('a4', { caller_tid: 't1', caller_oid: 'o', source_ip: '192.0.2.9' }));
    expect(q.rows.map((r) => r.request_id)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
  });

  it('counts a refusal once the background queue holds maxQueued rows (default 1000)', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0 });
    q.waiting = 999;
    rec.record(refusal('in', { source_ip: '192.0.2.1' }));
    q.waiting = 1_000;
    rec.record(refusal('out', { source_ip: '192.0.2.2' }));
    expect(q.rows.map((r) => r.request_id)).toEqual(['in']);
  });

  it('tells of a failed background write, and the refusal itself still returns at once', async () => {
    const q = queue();
    q.fail = new Error('store down');
    const seen: unknown[] = [];
    const rec = new RefusalRecorder(q, { now: () => T0, onWriteError: (e) => seen.push(e) });
    expect(rec.record(refusal('x'))).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([q.fail]);
    // Without a listener, a failed write is swallowed (never an unhandled rejection).
    new RefusalRecorder(q, { now: () => T0 }).record(refusal('y'));
    await new Promise((r) => setImmediate(r));
  });
});

describe('RefusalRecorder summaries', () => {
  it('summarize a minute once it is over: counts, codes, window and who, keyed per key and window', () => {
    const q = queue();
    let now = T0 + 5_000;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 1 });
    const who = { caller_tid: 't', caller_oid: 'o', caller_appid: 'app', source_ip: '192.0.2.1', user_agent: 'curl' };
    rec.record(refusal('r0', who));
    rec.record(refusal('r1', { ...who, code: 'rate_limited' }));
    rec.record(refusal('r2', { ...who, code: 'rate_limited' }));
    rec.record(refusal('r3', who));
    now = T0 + 5_000 + 59_999;
    rec.sweep();
    expect(summaries(q.rows)).toEqual([]);
    now = T0 + 5_000 + 60_000;
    rec.sweep();
    const [summary] = summaries(q.rows);
    const time = new Date(now).toISOString();
    expect(summary).toEqual({
      rowKey: expect.stringMatching(/^20261129T120105\.000Z_summary-20261129T120005\.000Z-[0-9a-f]{8}$/) as string,
      time,
      outcome: 'refusals_summary',
      code: 'refusals_suppressed',
      suppressed_count: 3,
      window_start: new Date(T0 + 5_000).toISOString(),
      window_end: time,
      codes: 'rate_limited=2,not_granted=1',
      caller_tid: 't',
      caller_oid: 'o',
      caller_appid: 'app',
      source_ip: '192.0.2.1',
    });
    expect(q.days.at(-1)).toBe('20261129');
    // The window is gone: nothing more to summarize.
    rec.sweep(true);
    expect(summaries(q.rows)).toHaveLength(1);
  });

  it('end the window at its minute when the summary is written later, and tell keys apart in the RowKey', () => {
    const q = queue();
    let now = T0;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 0 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.record(refusal('b', { source_ip: '192.0.2.2' }));
    now = T0 + 10 * 60_000;
    rec.sweep();
    const rows = summaries(q.rows);
    expect(rows.map((r) => r.window_end)).toEqual([new Date(T0 + 60_000).toISOString(), new Date(T0 + 60_000).toISOString()]);
    expect(new Set(rows.map((r) => r.rowKey)).size).toBe(2);
    expect(rows.map((r) => r.source_ip)).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  it('write no summary for a window with nothing counted', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.sweep(true);
    expect(summaries(q.rows)).toEqual([]);
  });

  it('start a fresh window exactly one minute after the first, summarizing the old one', () => {
    const q = queue();
    let now = T0;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 1 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.record(refusal('b', { source_ip: '192.0.2.1' }));
    now = T0 + 59_999;
    rec.record(refusal('c', { source_ip: '192.0.2.1' }));
    expect(q.rows.map((r) => r.request_id ?? r.suppressed_count)).toEqual(['a']);
    now = T0 + 60_000;
    rec.record(refusal('d', { source_ip: '192.0.2.1' }));
    expect(q.rows.map((r) => r.request_id ?? r.suppressed_count)).toEqual(['a', 2, 'd']);
  });

  it('keep at most 8 codes per window, still counting every refusal', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0, perKeyPerMinute: 0 });
    for (let i = 0; i < 10; i++) rec.record(refusal(`r${i}`, { source_ip: '192.0.2.1', code: `code${i}` }));
    rec.record(refusal('again', { source_ip: '192.0.2.1', code: 'code0' }));
    rec.sweep(true);
    const [summary] = summaries(q.rows);
    expect(summary?.suppressed_count).toBe(11);
    expect(summary?.codes).toBe('code0=2,code1=1,code2=1,code3=1,code4=1,code5=1,code6=1,code7=1');
  });
});

describe('RefusalRecorder memory bound', () => {
  it('sweeps expired windows before sending new keys to the shared overflow window', () => {
    const q = queue();
    let now = T0;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 1, maxKeys: 2 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.record(refusal('b', { source_ip: '192.0.2.2' }));
    now = T0 + 60_000;
    // Both windows are over: the new key gets its own window and its row, and so does the next
    // (in the shared overflow window, the second new key's refusal would only be counted).
    rec.record(refusal('c', { source_ip: '192.0.2.3' }));
    rec.record(refusal('d', { source_ip: '192.0.2.4' }));
    expect(q.rows.map((r) => r.request_id)).toEqual(['a', 'b', 'c', 'd']);
    // The new key's window is its own, not the shared one: its summary names it.
    rec.record(refusal('c2', { source_ip: '192.0.2.3' }));
    rec.sweep(true);
    expect(summaries(q.rows)).toEqual([expect.objectContaining({ suppressed_count: 1, source_ip: '192.0.2.3' })]);
  });

  it('below the bound, a new key leaves the other keys\' finished windows to the sweep', () => {
    const q = queue();
    let now = T0;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 1, maxKeys: 3 });
    rec.record(refusal('a1', { source_ip: '192.0.2.1' }));
    rec.record(refusal('a2', { source_ip: '192.0.2.1' }));
    now = T0 + 60_000;
    rec.record(refusal('b', { source_ip: '192.0.2.2' }));
    expect(q.rows.map((r) => r.request_id ?? r.outcome)).toEqual(['a1', 'b']);
    rec.sweep();
    expect(q.rows.map((r) => r.request_id ?? r.outcome)).toEqual(['a1', 'b', 'refusals_summary']);
  });

  it('a sweep closes the windows that are over and keeps the rest, in the order they opened', () => {
    const q = queue();
    let now = T0;
    const rec = new RefusalRecorder(q, { now: () => now, perKeyPerMinute: 1 });
    const twice = (ip: string): void => {
      rec.record(refusal(`${ip}-1`, { source_ip: ip }));
      rec.record(refusal(`${ip}-2`, { source_ip: ip }));
    };
    twice('192.0.2.1');
    now = T0 + 20_000;
    twice('192.0.2.2');
    now = T0 + 40_000;
    twice('192.0.2.3');
    now = T0 + 61_000;
    // 192.0.2.1 starts a new window: the old one is summarized, the new one goes to the end.
    twice('192.0.2.1');
    rec.sweep();
    expect(summaries(q.rows).map((r) => r.source_ip)).toEqual(['192.0.2.1']);
    now = T0 + 80_000;
    rec.sweep();
    expect(summaries(q.rows).map((r) => r.source_ip)).toEqual(['192.0.2.1', '192.0.2.2']);
    now = T0 + 121_000;
    rec.sweep();
    expect(summaries(q.rows).map((r) => r.source_ip)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.1']);
  });

  it('shares one overflow window past maxKeys, its summary carrying no identity', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0, perKeyPerMinute: 1, maxKeys: 2 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.record(refusal('b', { source_ip: '192.0.2.2' }));
    rec.record(refusal('c', { caller_tid: 't', caller_oid: 'o3', caller_appid: 'app', source_ip: '192.0.2.3' }));
    rec.record(refusal('d', { source_ip: '192.0.2.4' }));
    rec.record(refusal('e', { source_ip: '192.0.2.5' }));
    // The overflow window's first row is written like any window's (the refusal's own row, as it came).
    expect(q.rows.map((r) => r.request_id)).toEqual(['a', 'b', 'c']);
    expect(q.rows[2]).toMatchObject({ caller_oid: 'o3', source_ip: '192.0.2.3' });
    rec.sweep(true);
    const [summary] = summaries(q.rows);
    expect(summary?.suppressed_count).toBe(2);
    for (const field of ['caller_tid', 'caller_oid', 'caller_appid', 'source_ip']) expect(summary).not.toHaveProperty(field);
  });

  it('tracks 10000 keys by default before overflowing', () => {
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0, perKeyPerMinute: 1 });
    for (let i = 0; i < 10_001; i++) rec.record(refusal(`r${i}`, { source_ip: `ip-${i}` }));
    expect(q.rows).toHaveLength(10_001); // the 10 001st key opens the overflow window, whose first row is written
    rec.record(refusal('more', { source_ip: 'ip-new' }));
    expect(q.rows).toHaveLength(10_001);
  });
});

describe('withoutUndefined', () => {
  it('drops undefined fields only', () => {
    expect(withoutUndefined({ a: 1, b: undefined, c: '', d: false, e: 0 })).toEqual({ a: 1, c: '', d: false, e: 0 });
  });

  it("puts the given row's fields first", () => {
    const out = withoutUndefined({ a: 1, b: undefined }, { rowKey: 'r1' });
    expect(Object.entries(out)).toEqual([
      ['rowKey', 'r1'],
      ['a', 1],
    ]);
  });
});

/** 32-bit FNV-1a, 8 hex digits: the summary RowKey's tag of a key. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'latin1')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

describe('RefusalRecorder summary RowKeys', () => {
  it('end in the FNV-1a tag of the key: caller:<tid>/<oid> (an absent tid empty), ip:<address>, or anonymous', () => {
    // The published FNV-1a test vectors: the tag below is the standard hash.
    expect([fnv1a(''), fnv1a('a'), fnv1a('foobar')]).toEqual(['811c9dc5', 'e40c292c', 'bf9cf968']);
    // An address whose tag starts with a zero: the tag keeps its 8 digits.
    const ip = Array.from({ length: 4096 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).find((a) => fnv1a(`ip:${a}`).startsWith('0'));
    expect(ip).toBeDefined();
    const q = queue();
    const rec = new RefusalRecorder(q, { now: () => T0, perKeyPerMinute: 0 });
    rec.record(refusal('a', { caller_tid: 't', caller_oid: 'o' }));
    rec.record(refusal('b', { caller_oid: 'o' }));
    rec.record(refusal('c', { source_ip: ip }));
    rec.record(refusal('d'));
    rec.sweep(true);
    const tags = summaries(q.rows).map((r) => /-([0-9a-f]+)$/.exec(String(r.rowKey))?.[1]);
    expect(tags).toEqual([fnv1a('caller:t/o'), fnv1a('caller:/o'), fnv1a(`ip:${ip}`), fnv1a('anonymous')]);
  });

  it('the shared window past maxKeys is tagged as the overflow key (the module loaded anew, see loadAnew)', async () => {
    const { RefusalRecorder: Fresh } = await loadAnew(() => import('../../src/core/audit/refusal-recorder.js'));
    const q = queue();
    const rec = new Fresh(q, { now: () => T0, perKeyPerMinute: 0, maxKeys: 1 });
    rec.record(refusal('a', { source_ip: '192.0.2.1' }));
    rec.record(refusal('b', { source_ip: '192.0.2.2' }));
    rec.sweep(true);
    const tags = summaries(q.rows).map((r) => /-([0-9a-f]+)$/.exec(String(r.rowKey))?.[1]);
    expect(tags).toEqual([fnv1a('ip:192.0.2.1'), fnv1a('overflow')]);
  });
});
