import type { AuditRecord, GrantOutcome } from '../audit';
import { describeError, isVendingError } from '../errors';
import { toProblemResponse } from '../http';
import type { CoreResponse, Logger } from '../http';
import type { CallerIdentity } from '../policy';
import { NO_TELEMETRY } from '../telemetry';
import { requestFacts } from '../vend/run-decision';
import type { RequestContext, VendDeps } from '../vend/vend-deps';

/** What is known of a grant action so far; grows as the request passes each check. */
export interface GrantAttempt {
  readonly startedAt: number;
  readonly action: string;
  caller?: CallerIdentity;
  workspace?: string;
  grantId?: string;
}

interface RecordFields {
  readonly outcome: AuditRecord['outcome'];
  readonly status: number;
  readonly code: string;
  readonly content?: unknown;
}

export function buildGrantRecord(deps: VendDeps, ctx: RequestContext, attempt: GrantAttempt, fields: RecordFields): AuditRecord {
  const now = deps.clock.now();
  const c = attempt.caller;
  return {
    request_id: ctx.requestId,
    time: new Date(now).toISOString(),
    outcome: fields.outcome,
    status: fields.status,
    code: fields.code,
    caller_tid: c?.tenantId,
    caller_oid: c?.objectId,
    caller_appid: c?.appId,
    caller_kind: c?.kind,
    caller_name: c?.name,
    workspace: attempt.workspace,
    action: attempt.action,
    grant_id: attempt.grantId,
    // Bodies are bounded to 16 KiB and an entity property to 64 KiB: the content always fits.
    // JSON.stringify(undefined) is undefined: no content, no column.
    grant: JSON.stringify(fields.content),
    source_ip: ctx.sourceIp?.slice(0, 64),
    user_agent: ctx.userAgent?.slice(0, 256),
    latency_ms: Math.max(0, Math.round(now - attempt.startedAt)),
  };
}

/** Fail closed: the change is made only after this resolves (AuditUnavailableError → 503, nothing changed). */
export function recordChange(deps: VendDeps, ctx: RequestContext, attempt: GrantAttempt, outcome: GrantOutcome, status: number, content: unknown): Promise<void> {
  return deps.audit.record(buildGrantRecord(deps, ctx, attempt, { outcome, status, code: outcome, content }));
}

/**
 * Runs one grant action like runDecision runs a vend: any error becomes problem+json, a refusal
 * (403 to a non-owner, 400 for a bad body, …) is recorded with the action tried, and one log
 * line per request holds identifiers only.
 */
export async function runGrantAction(
  deps: VendDeps,
  ctx: RequestContext,
  logger: Logger,
  action: string,
  run: (attempt: GrantAttempt) => Promise<CoreResponse>,
): Promise<CoreResponse> {
  const telemetry = deps.telemetry ?? NO_TELEMETRY;
  return telemetry.request(action, ctx.traceParent, async (finish) => {
    const attempt: GrantAttempt = { startedAt: deps.clock.now(), action };
    const response = await runAttempt(deps, ctx, logger, attempt, run);
    const outcome = response.status < 400 ? 'ok' : response.status < 500 ? 'denied' : 'failed';
    // A refusal's body is problem+json: its `code` is one of the taxonomy's.
    const problem = (response.body as { code?: unknown } | undefined)?.code;
    const code = outcome === 'ok' ? 'ok' : typeof problem === 'string' ? problem : 'internal_error';
    if (telemetry.enabled) finish(requestFacts(deps, ctx, attempt, action, { status: response.status, code, outcome, durationMs: deps.clock.now() - attempt.startedAt }));
    return response;
  });
}

async function runAttempt(deps: VendDeps, ctx: RequestContext, logger: Logger, attempt: GrantAttempt, run: (attempt: GrantAttempt) => Promise<CoreResponse>): Promise<CoreResponse> {
  const { action } = attempt;
  try {
    const response = await run(attempt);
    logger.info(`${action}: ${response.status}`, fieldsOf(ctx, attempt));
    return response;
  } catch (err) {
    const status = isVendingError(err) ? err.status : 500;
    const code = isVendingError(err) ? err.code : 'internal_error';
    let audit: string | undefined;
    try {
      await deps.audit.record(buildGrantRecord(deps, ctx, attempt, { outcome: status < 500 ? 'denied' : 'failed', status, code }));
    } catch {
      audit = 'audit record of a refusal could not be written';
    }
    const fields = { ...fieldsOf(ctx, attempt), status, code, ...(audit ? { audit } : {}) };
    if (status >= 500) logger.error(`${action}: ${status}`, { ...fields, error: describeError(err) });
    else logger.info(`${action}: ${status}`, fields);
    return toProblemResponse(err, ctx.requestId);
  }
}

function fieldsOf(ctx: RequestContext, a: GrantAttempt): Record<string, unknown> {
  return { request_id: ctx.requestId, caller_tid: a.caller?.tenantId, caller_oid: a.caller?.objectId, caller_appid: a.caller?.appId, workspace: a.workspace, grant_id: a.grantId };
}
