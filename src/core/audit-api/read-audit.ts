import { queryAudit } from '../audit';
import { raceDeadline } from '../deadline';
import type { AuditReader, AuditRow } from '../audit';
import { NotGrantedError, UpstreamUnavailableError } from '../errors';
import { jsonResponse } from '../http';
import type { CoreResponse } from '../http';
import { callerMatches } from '../policy';
import type { CallerIdentity } from '../policy';
import { authenticate } from '../vend/authenticate';
import { buildRecord } from '../vend/audit-trail';
import type { Decision } from '../vend/audit-trail';
import type { RequestContext, VendDeps } from '../vend/vend-deps';
import { encodePageToken, parseAuditParams } from './audit-params';
import type { AuditRequest } from './audit-params';

/** Our own bound on one page's reads; past it the answer is 503 with Retry-After, never a hang. */
export const AUDIT_READ_DEADLINE_MS = 20_000;
/** Slices read at once: at most this many hours (or, for a selective filter, days) of rows held. */
const READ_AHEAD = 4;
/** Default max span when the config names auditors without one (the schema's default). */
const FALLBACK_SPAN_DAYS = 31;
/** Storage bookkeeping, not part of the record. */
const STORAGE_FIELDS = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.etag']);

/**
 * GET /api/audit: who may read first (403, recorded, before any filter is even parsed), then the
 * filters (400), then the read is recorded (awaited: no record, no read), then one page.
 */
export async function readAudit(deps: VendDeps, ctx: RequestContext, params: URLSearchParams, decision: Decision): Promise<CoreResponse> {
  decision.caller = await authenticate(deps, ctx);
  // Until the filters are valid only their names are kept: a value might be a pasted secret.
  decision.auditQuery = JSON.stringify({ params: [...new Set(params.keys())].map((k) => k.slice(0, 40)).slice(0, 20) });
  requireAuditor(deps, decision.caller);
  const request = parseAuditParams(params, deps.clock.now(), maxSpanDays(deps));
  decision.auditQuery = describeRequest(request);
  await recordRead(deps, ctx, decision);
  const page = await readPage(reader(deps), request);
  return jsonResponse(200, { since: iso(request.from), until: iso(request.to), ...page }, ctx.requestId);
}

/** Same 403 words whatever the reason: the auditors setting is not revealed. */
export function requireAuditor(deps: VendDeps, caller: CallerIdentity): void {
  if (!deps.auditors || !callerMatches(deps.auditors, caller)) throw new NotGrantedError({ detail: 'This caller may not read the audit trail.' });
}

export function maxSpanDays(deps: VendDeps): number {
  return deps.config.auditors?.maxSpanDays ?? FALLBACK_SPAN_DAYS;
}

export function reader(deps: VendDeps): AuditReader {
  if (!deps.auditReader) throw new UpstreamUnavailableError('The audit table cannot be read by this instance.');
  return deps.auditReader;
}

/** The read is an `audit_read` row in the issuance partitions, durable before anything is read. */
export async function recordRead(deps: VendDeps, ctx: RequestContext, decision: Decision): Promise<void> {
  await deps.audit.record(buildRecord(deps, ctx, decision, 'audit_read', { status: 200, code: 'audit_read' }));
}

export function describeRequest(request: AuditRequest, extra: Record<string, string> = {}): string {
  return JSON.stringify({ since: iso(request.from), until: iso(request.to), ...request.filter, ...extra, limit: request.limit, ...(request.resumeAfter ? { continued: true } : {}) });
}

/**
 * Up to `limit` rows, newest first, and a continuation when more may follow. One row more than
 * the page is looked at, so a continuation is only given when there is something after it.
 */
export async function readPage(source: AuditReader, request: AuditRequest): Promise<{ items: Record<string, unknown>[]; continuation?: string }> {
  return withDeadline(AUDIT_READ_DEADLINE_MS, async () => {
    const items: Record<string, unknown>[] = [];
    let last: string | undefined;
    const rows = queryAudit(source, {
      from: request.from,
      to: request.to,
      filter: request.filter,
      ...(request.kinds ? { kinds: request.kinds } : {}),
      ...(request.resumeAfter ? { continuation: request.resumeAfter } : {}),
      sliceMs: isSelective(request) ? 86_400_000 : 3_600_000,
      readAhead: READ_AHEAD,
    });
    for await (const { row, continuation } of rows) {
      if (items.length === request.limit) return { items, continuation: encodePageToken(request.from, request.to, last ?? continuation) };
      items.push(publicFields(row));
      last = continuation;
    }
    return { items };
  });
}

/** A filter that picks few rows lets a slice be a whole day: fewer round trips, few rows held. */
function isSelective(request: AuditRequest): boolean {
  const f = request.filter;
  // The filters this API can set that pick few rows (request_id is not one of its parameters).
  return f.caller !== undefined || f.token_id !== undefined || f.token_fingerprint !== undefined;
}

function publicFields(row: AuditRow): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([k]) => !STORAGE_FIELDS.has(k)));
}

/** Bounded by our own timer (raceDeadline); storage SDK errors can quote the request, so only ours pass through. */
async function withDeadline<T>(ms: number, run: () => Promise<T>): Promise<T> {
  try {
    return await raceDeadline(run(), ms, () => new UpstreamUnavailableError(`The audit table did not answer within ${ms / 1000} s.`));
  } catch (err) {
    if (err instanceof UpstreamUnavailableError) throw err;
    throw new UpstreamUnavailableError('The audit table could not be read.', err);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
