import { describeError, isVendingError } from '../errors';
import { toProblemResponse } from '../http';
import type { CoreResponse, Logger } from '../http';
import { recordRefusal } from './audit-trail';
import type { Decision } from './audit-trail';
import type { RequestContext, VendDeps } from './vend-deps';

/**
 * Runs one audited decision: turns any error into problem+json, records refusals (in the
 * background), and logs a line per request with identifiers only (no token, no secret, no raw JWT, no SDK message).
 */
export async function runDecision(
  deps: VendDeps,
  ctx: RequestContext,
  logger: Logger,
  action: string,
  run: (decision: Decision) => Promise<CoreResponse>,
): Promise<CoreResponse> {
  const decision: Decision = { startedAt: deps.clock.now() };
  try {
    const response = await run(decision);
    logger.info(`${action}: ${response.status}`, { ...logFields(ctx, decision), latency_ms: deps.clock.now() - decision.startedAt });
    return response;
  } catch (err) {
    // Not awaited: a refusal's answer never waits on its audit write (README "Audit record").
    recordRefusal(deps, ctx, decision, err, logger);
    const response = toProblemResponse(err, ctx.requestId);
    const fields = { ...logFields(ctx, decision), status: response.status, code: isVendingError(err) ? err.code : 'internal_error', latency_ms: deps.clock.now() - decision.startedAt };
    if (response.status >= 500) logger.error(`${action}: ${response.status}`, { ...fields, error: describeError(err) });
    else logger.info(`${action}: ${response.status}`, fields);
    return response;
  }
}

function logFields(ctx: RequestContext, d: Decision): Record<string, unknown> {
  return {
    request_id: ctx.requestId,
    caller_tid: d.caller?.tenantId,
    caller_oid: d.caller?.objectId,
    caller_appid: d.caller?.appId,
    workspace: d.workspace,
    mode: d.mode,
  };
}
