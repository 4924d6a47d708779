import { z } from 'zod';
import { fingerprintToken } from '../audit';
import { jsonResponse, readJsonBody } from '../http';
import type { CoreResponse, IncomingBody } from '../http';
import { authenticate } from '../vend/authenticate';
import type { Decision } from '../vend/audit-trail';
import type { RequestContext, VendDeps } from '../vend/vend-deps';
import { MAX_LIMIT, parseRange } from './audit-params';
import { describeRequest, maxSpanDays, readPage, reader, recordRead, requireAuditor } from './read-audit';

/** The token travels in the body only: a URL lands in proxies' and hosts' request logs. */
const lookupSchema = z.strictObject({
  token: z.string().min(1).max(12_000),
  since: z.string().max(40).optional(),
  until: z.string().max(40).optional(),
});

/**
 * POST /api/audit/lookup: the issuance of a token someone found. The service computes the token's
 * HMAC fingerprint under the deployment's audit key and reads the rows that carry it; by default
 * over the longest span allowed (a token lives at most a day, so its row is within reach).
 * Neither the token nor anything derived from it but the fingerprint is kept or logged.
 */
export async function lookupAudit(deps: VendDeps, ctx: RequestContext, incoming: IncomingBody, decision: Decision): Promise<CoreResponse> {
  decision.caller = await authenticate(deps, ctx);
  decision.auditQuery = JSON.stringify({ lookup: true });
  requireAuditor(deps, decision.caller);
  const body = await readJsonBody(incoming, lookupSchema);
  const span = maxSpanDays(deps);
  const range = parseRange(body.since, body.until, deps.clock.now(), span, span * 86_400_000);
  const fingerprint = fingerprintToken(body.token, await deps.auditKey.current());
  const request = { ...range, filter: { token_fingerprint: fingerprint }, kinds: ['issuance'] as const, limit: MAX_LIMIT };
  decision.auditQuery = describeRequest(request, { lookup: 'token' });
  await recordRead(deps, ctx, decision);
  const page = await readPage(reader(deps), request);
  return jsonResponse(200, { fingerprint, since: new Date(range.from).toISOString(), until: new Date(range.to).toISOString(), items: page.items }, ctx.requestId);
}
