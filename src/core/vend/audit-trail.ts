import type { AuditRecord } from '../audit';
import { describeError, isVendingError } from '../errors';
import type { Logger } from '../http';
import type { CallerIdentity } from '../policy';
import type { RequestContext, VendDeps } from './vend-deps';

/** What is known of a decision so far; grows as the request passes each check. */
export interface Decision {
  /** When the request arrived (clock ms): the audit record's latency is measured from here. */
  readonly startedAt: number;
  caller?: CallerIdentity;
  workspace?: string;
  servicePrincipal?: string;
  mode?: string;
  managementToken?: boolean;
  /** Granted API scopes, once a scoped mode has minted. */
  scopes?: readonly string[];
  purpose?: string;
  /** Audit API requests: the filters asked for (JSON), recorded with the read or its refusal. */
  auditQuery?: string;
}

export function buildRecord(
  deps: VendDeps,
  ctx: RequestContext,
  decision: Decision,
  outcome: AuditRecord['outcome'],
  result: { status: number; code: string; tokenId?: string; fingerprint?: string; expiresOn?: number; grantId?: string },
): AuditRecord {
  const now = deps.clock.now();
  const c = decision.caller;
  return {
    request_id: ctx.requestId,
    time: new Date(now).toISOString(),
    outcome,
    status: result.status,
    code: result.code,
    caller_tid: c?.tenantId,
    caller_oid: c?.objectId,
    caller_appid: c?.appId,
    caller_kind: c?.kind,
    caller_name: c?.name,
    workspace: decision.workspace,
    service_principal: decision.servicePrincipal,
    mode: decision.mode,
    management_token: decision.managementToken,
    scopes: decision.scopes?.length ? decision.scopes.join(' ') : undefined,
    token_id: result.tokenId,
    token_fingerprint: result.fingerprint,
    expires_on: result.expiresOn,
    purpose: decision.purpose,
    audit_query: decision.auditQuery,
    source_ip: ctx.sourceIp?.slice(0, 64),
    user_agent: ctx.userAgent?.slice(0, 256),
    latency_ms: Math.max(0, Math.round(now - decision.startedAt)),
    grant_id: result.grantId,
  };
}

/**
 * Records a refusal or failure without holding the answer: the caller gets no token either way,
 * and the sink writes refusal rows in the background, bounded per caller or client address
 * (README "Audit record"). A failure to hand the record over is logged, never raised.
 */
export function recordRefusal(deps: VendDeps, ctx: RequestContext, decision: Decision, err: unknown, logger: Logger): void {
  const status = isVendingError(err) ? err.status : 500;
  const code = isVendingError(err) ? err.code : 'internal_error';
  let pending: Promise<void>;
  try {
    pending = deps.audit.record(buildRecord(deps, ctx, decision, status < 500 ? 'denied' : 'failed', { status, code }));
  } catch (e) {
    pending = Promise.reject(e instanceof Error ? e : new Error('audit sink threw a non-error'));
  }
  pending.catch((e: unknown) => logger.warn('audit record of a refusal could not be written', { request_id: ctx.requestId, error: describeError(e) }));
}
