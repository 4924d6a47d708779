import { describeError, isVendingError } from '../errors';
import { toProblemResponse } from '../http';
import type { CoreResponse, Logger } from '../http';
import { NO_TELEMETRY } from '../telemetry';
import type { RequestFacts } from '../telemetry';
import { recordRefusal } from './audit-trail';
import type { Decision } from './audit-trail';
import type { RequestContext, VendDeps } from './vend-deps';

/**
 * Runs one audited decision: turns any error into problem+json, records refusals (in the
 * background), and logs a line per request with identifiers only (no token, no secret, no raw JWT, no SDK message).
 * The same identifiers, and nothing else, go to the request's span and metrics.
 */
export async function runDecision(
  deps: VendDeps,
  ctx: RequestContext,
  logger: Logger,
  action: string,
  run: (decision: Decision) => Promise<CoreResponse>,
): Promise<CoreResponse> {
  const telemetry = deps.telemetry ?? NO_TELEMETRY;
  return telemetry.request(action, ctx.traceParent, async (finish) => {
    const decision: Decision = { startedAt: deps.clock.now() };
    const report = (how: Pick<RequestFacts, 'status' | 'code' | 'outcome' | 'durationMs'>): void => {
      if (telemetry.enabled) finish(requestFacts(deps, ctx, decision, action, how));
    };
    try {
      const response = await run(decision);
      const latency = deps.clock.now() - decision.startedAt;
      logger.info(`${action}: ${response.status}`, { ...logFields(ctx, decision), latency_ms: latency });
      const outcome = action === 'token' && response.status === 200 ? 'issued' : 'ok';
      report({ status: response.status, code: outcome, outcome, durationMs: latency });
      return response;
    } catch (err) {
      // Not awaited: a refusal's answer never waits on its audit write (README "Audit record").
      recordRefusal(deps, ctx, decision, err, logger);
      const response = toProblemResponse(err, ctx.requestId);
      const code = isVendingError(err) ? err.code : 'internal_error';
      const latency = deps.clock.now() - decision.startedAt;
      const fields = { ...logFields(ctx, decision), status: response.status, code, latency_ms: latency };
      if (response.status >= 500) logger.error(`${action}: ${response.status}`, { ...fields, error: describeError(err) });
      else logger.info(`${action}: ${response.status}`, fields);
      report({ status: response.status, code, outcome: response.status >= 500 ? 'failed' : 'denied', durationMs: latency });
      return response;
    }
  });
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

/**
 * What a request's span and metrics get (grant actions use it too). A workspace name the config
 * does not know came from the caller: it never becomes a label.
 */
export function requestFacts(
  deps: VendDeps,
  ctx: RequestContext,
  d: Pick<Decision, 'caller' | 'workspace' | 'mode'>,
  route: string,
  how: Pick<RequestFacts, 'status' | 'code' | 'outcome' | 'durationMs'>,
): RequestFacts {
  return {
    route,
    ...how,
    workspace: d.workspace === undefined ? undefined : deps.config.workspaces.has(d.workspace) ? d.workspace : '(unknown)',
    mode: isModeName(d.mode) ? d.mode : undefined,
    callerTenantId: d.caller?.tenantId,
    callerObjectId: d.caller?.objectId,
    callerAppId: d.caller?.appId,
    requestId: ctx.requestId,
  };
}

/** The modes DESIGN §2 names, as a telemetry label (checked in a function: a constant built at import escapes the mutation tests). */
function isModeName(mode: string | undefined): boolean {
  return mode === 'aad' || mode === 'pat' || mode === 'oauth' || mode === 'user';
}
