import type { AuditRecord } from './audit-record';
import { dayOf, rowKey, rowKeyTime } from './partition-layout';
import type { EntityValue } from './group-commit';

/** Where refusal rows go: a background queue (`GroupCommitter` over refusal partitions). */
export interface RefusalQueue {
  readonly queued: number;
  submit(day: string, row: { readonly rowKey: string; readonly [property: string]: EntityValue }): Promise<void>;
}

export interface RefusalBoundOptions {
  /** Rows written individually per key and minute; the rest are counted into one summary row. */
  readonly perKeyPerMinute?: number;
  /** Keys tracked at once; past it, new keys share one `overflow` window (memory stays bounded). */
  readonly maxKeys?: number;
  /** Background rows waiting at most; past it, a refusal is counted instead of queued. */
  readonly maxQueued?: number;
  readonly now?: () => number;
  /** Told of a background write that failed, with a sanitized error; never holds row values. */
  readonly onWriteError?: (err: unknown) => void;
}

interface Window {
  readonly start: number;
  written: number;
  suppressed: number;
  readonly codes: Map<string, number>;
  readonly who: Partial<Record<'caller_tid' | 'caller_oid' | 'caller_appid' | 'source_ip', string>>;
}

const WINDOW_MS = 60_000;
const MAX_CODES = 8;
const OVERFLOW = 'overflow';

/**
 * Refusals are recorded in the background and bounded: per caller (tenant + object id) or, with
 * no verified identity, per client address, at most `perKeyPerMinute` rows a minute; what
 * follows in that minute is counted, and one `refusals_summary` row records the count once the
 * minute is over. The answer to a refusal never waits on any of this.
 */
export class RefusalRecorder {
  readonly #windows = new Map<string, Window>();
  readonly #perKey: number;
  readonly #maxKeys: number;
  readonly #maxQueued: number;
  readonly #now: () => number;

  constructor(
    private readonly queue: RefusalQueue,
    private readonly options: RefusalBoundOptions = {},
  ) {
    this.#perKey = options.perKeyPerMinute ?? 3;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#maxQueued = options.maxQueued ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  /** Takes the refusal; returns at once. */
  record(record: AuditRecord): void {
    const now = this.#now();
    const window = this.#windowFor(keyOf(record), record, now);
    if (window.written < this.#perKey && this.queue.queued < this.#maxQueued) {
      window.written += 1;
      this.#send(dayOf(record.time), withoutUndefined(record, { rowKey: rowKey(record.time, record.request_id) }));
      return;
    }
    window.suppressed += 1;
    if (window.codes.has(record.code) || window.codes.size < MAX_CODES) window.codes.set(record.code, (window.codes.get(record.code) ?? 0) + 1);
  }

  /**
   * Writes the summary of every window that is over (all windows with `all`); called on a timer.
   * Windows are kept in the order they opened (a window that starts anew is moved to the end), so
   * the scan stops at the first one still open: its cost is the windows it closes, not all kept.
   * Should the clock step back, a window opened before the step waits for a later sweep.
   */
  sweep(all = false): void {
    const now = this.#now();
    for (const [key, w] of this.#windows) {
      if (!all && now - w.start < WINDOW_MS) break;
      this.#windows.delete(key);
      this.#summarize(key, w, now);
    }
  }

  #windowFor(key: string, record: AuditRecord, now: number): Window {
    let w = this.#windows.get(key);
    if (w && now - w.start >= WINDOW_MS) {
      this.#windows.delete(key);
      this.#summarize(key, w, now);
      w = undefined;
    }
    if (w) return w;
    if (key !== OVERFLOW && this.#windows.size >= this.#maxKeys) this.sweep();
    // The overflow window itself may be the one entry past the bound.
    if (key !== OVERFLOW && this.#windows.size >= this.#maxKeys) return this.#windowFor(OVERFLOW, { ...record, caller_tid: undefined, caller_oid: undefined, caller_appid: undefined, source_ip: undefined }, now);
    const who = { caller_tid: record.caller_tid, caller_oid: record.caller_oid, caller_appid: record.caller_appid, source_ip: record.source_ip };
    w = { start: now, written: 0, suppressed: 0, codes: new Map(), who: withoutUndefined(who) };
    this.#windows.set(key, w);
    return w;
  }

  #summarize(key: string, w: Window, now: number): void {
    if (w.suppressed === 0) return;
    const time = new Date(now).toISOString();
    this.#send(dayOf(time), {
      rowKey: rowKey(time, `summary-${rowKeyTime(w.start)}-${hashKey(key)}`),
      time,
      outcome: 'refusals_summary',
      code: 'refusals_suppressed',
      suppressed_count: w.suppressed,
      window_start: new Date(w.start).toISOString(),
      window_end: new Date(Math.min(now, w.start + WINDOW_MS)).toISOString(),
      codes: [...w.codes].map(([code, n]) => `${code}=${n}`).join(','),
      ...w.who,
    });
  }

  #send(day: string, row: Parameters<RefusalQueue['submit']>[1]): void {
    this.queue.submit(day, row).catch((err: unknown) => this.options.onWriteError?.(err));
  }
}

function keyOf(record: AuditRecord): string {
  if (record.caller_oid) return `caller:${record.caller_tid ?? ''}/${record.caller_oid}`;
  return record.source_ip ? `ip:${record.source_ip}` : 'anonymous';
}

/** A short, stable, non-reversible tag of the key for the summary's RowKey (unique per key and window). */
function hashKey(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function withoutUndefined<T extends object, S extends Record<string, EntityValue>>(record: T, start?: S): S & Record<string, EntityValue> {
  // One object, `start`'s fields (a row's keys) first. Built by Object.fromEntries, which leaves it
  // with fast properties: adding two dozen computed keys one by one turns it into a dictionary,
  // which the row's copies and JSON serializations downstream pay for many times over.
  const fields: [string, unknown][] = start ? Object.entries(start) : [];
  for (const k of Object.keys(record)) {
    const v = (record as Record<string, unknown>)[k];
    if (v !== undefined) fields.push([k, v]);
  }
  return Object.fromEntries(fields) as S & Record<string, EntityValue>;
}
