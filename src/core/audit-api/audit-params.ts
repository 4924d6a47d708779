import type { AuditFilter, RowKind } from '../audit';
import { AUDIT_OUTCOMES, decodeContinuation } from '../audit';
import { NAME_PATTERN, NAME_RULE } from '../config';
import { InvalidRequestError } from '../errors';

/** A validated audit query: a bounded time range, equality filters, a page size, where to resume. */
export interface AuditRequest {
  /** Inclusive lower bound, ms since epoch. */
  readonly from: number;
  /** Exclusive upper bound, ms since epoch. */
  readonly to: number;
  readonly filter: AuditFilter;
  readonly kinds?: readonly RowKind[];
  readonly limit: number;
  /** The position inside the range to resume after (the store-level continuation). */
  readonly resumeAfter?: string;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1_000;
const DAY_MS = 86_400_000;
const PARAMS = ['since', 'until', 'workspace', 'caller', 'outcome', 'token_id', 'limit', 'continuation'] as const;
// The shapes are tested inside functions rather than kept as module constants: the regular
// expressions are then built per call, which lets mutation testing switch each one at run time.
const isGuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
const isTokenId = (s: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(s);
const isIsoTime = (s: string): boolean => /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(s);
const relativeTime = (s: string): RegExpExecArray | null => /^(\d{1,5})([mhd])$/.exec(s);
const UNIT_MS = { m: 60_000, h: 3_600_000, d: DAY_MS } as const;
/** Databricks PATs start with `dapi`: a token pasted as a token_id would land in logs and rows. */
const isPatLike = (s: string): boolean => /^dapi[0-9a-f]{16,}/i.test(s);

/**
 * GET /api/audit's query string → an AuditRequest, or 400 naming the bad parameter. Unknown or
 * repeated parameters are refused, like misspelled config keys: a silently ignored filter would
 * answer a different question than the one asked.
 */
export function parseAuditParams(params: URLSearchParams, now: number, maxSpanDays: number): AuditRequest {
  for (const name of new Set(params.keys())) {
    if (!(PARAMS as readonly string[]).includes(name)) throw bad(`unknown parameter "${name.slice(0, 40)}" (known: ${PARAMS.join(', ')})`);
    if (params.getAll(name).length > 1) throw bad(`${name} is given more than once`);
  }
  const get = (name: (typeof PARAMS)[number]): string | undefined => params.get(name) ?? undefined;
  const filter: Record<string, string> = {};
  const workspace = get('workspace');
  if (workspace !== undefined) filter.workspace = check(workspace, NAME_PATTERN.test(workspace), `workspace ${NAME_RULE}`);
  const caller = get('caller');
  if (caller !== undefined) filter.caller = check(caller, isGuid(caller), 'caller must be an object id or app id (a GUID)').toLowerCase();
  const outcome = get('outcome');
  if (outcome !== undefined) filter.outcome = check(outcome, (AUDIT_OUTCOMES as readonly string[]).includes(outcome), `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  const tokenId = get('token_id');
  if (tokenId !== undefined) {
    if (isPatLike(tokenId)) throw bad('token_id looks like a token itself; find a token by POST /api/audit/lookup with it in the body');
    filter.token_id = check(tokenId, isTokenId(tokenId), 'token_id must be 1-128 of [A-Za-z0-9_-]');
  }
  const range = parseRange(get('since'), get('until'), now, maxSpanDays, DAY_MS);
  const continuation = get('continuation');
  const resumed = continuation === undefined ? undefined : decodePageToken(continuation, maxSpanDays);
  return {
    ...(resumed ? { from: resumed.from, to: resumed.to, resumeAfter: resumed.after } : range),
    filter,
    ...(outcome === undefined ? {} : { kinds: [outcome === 'denied' || outcome === 'failed' ? 'refusal' : 'issuance'] as const }),
    limit: parseLimit(get('limit')),
  };
}

/** `since` / `until`: ISO 8601 or relative to now (`30m`, `24h`, `7d`); default the last `defaultSpanMs`. */
export function parseRange(since: string | undefined, until: string | undefined, now: number, maxSpanDays: number, defaultSpanMs: number): { from: number; to: number } {
  const to = until === undefined ? now : parseInstant(until, now, 'until');
  const from = since === undefined ? to - Math.min(defaultSpanMs, maxSpanDays * DAY_MS) : parseInstant(since, now, 'since');
  if (from >= to) throw bad('since must be before until');
  if (to - from > maxSpanDays * DAY_MS) throw bad(`since..until spans more than ${maxSpanDays} days, the most one query may read`);
  return { from, to };
}

function parseInstant(text: string, now: number, name: string): number {
  const relative = relativeTime(text);
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS];
  const ms = isIsoTime(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw bad(`${name} must be an ISO 8601 time (2026-11-29T08:00:00Z) or a relative one (30m, 24h, 7d)`);
  return ms;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : 0;
  if (n < 1 || n > MAX_LIMIT) throw bad(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

/**
 * The API's continuation carries the range of the first page with the position, so paging goes
 * on over the same window even where `since`/`until` were relative. Its range is checked again.
 */
export function encodePageToken(from: number, to: number, after: string): string {
  return Buffer.from(JSON.stringify({ f: from, t: to, a: after }), 'utf8').toString('base64url');
}

function decodePageToken(text: string, maxSpanDays: number): { from: number; to: number; after: string } {
  let v: { f?: unknown; t?: unknown; a?: unknown } | undefined;
  let ok = false;
  try {
    v = text.length <= 2048 ? (JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof v) : undefined;
    ok = typeof v?.f === 'number' && typeof v.t === 'number' && typeof v.a === 'string' && v.f < v.t && v.t - v.f <= maxSpanDays * DAY_MS;
    if (ok) decodeContinuation(v?.a as string);
  } catch {
    ok = false;
  }
  if (!ok) throw bad('continuation is not one this API returned');
  return { from: v?.f as number, to: v?.t as number, after: v?.a as string };
}

function check(value: string, ok: boolean, rule: string): string {
  if (!ok) throw bad(rule);
  return value;
}

function bad(detail: string): InvalidRequestError {
  return new InvalidRequestError({ detail });
}
