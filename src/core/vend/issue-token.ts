import { fingerprintToken } from '../audit';
import type { Workspace } from '../config';
import { beforeMinting } from '../errors';
import { jsonResponse, readJsonBody } from '../http';
import type { CoreResponse, IncomingBody } from '../http';
import { authorize } from '../policy';
import { NO_TELEMETRY } from '../telemetry';
import { buildRecord } from './audit-trail';
import { authenticate, findWorkspace } from './authenticate';
import type { Decision } from './audit-trail';
import { MODES } from './modes';
import { recordOrRevoke } from './pat-orphans';
import type { Vended } from './modes';
import { tokenRequestSchema } from './request-schema';
import { tokenJson } from './token-json';
import type { TokenRequest } from './request-schema';
import type { RequestContext, VendDeps } from './vend-deps';

/**
 * POST /api/token. The order is the protocol: who is calling, may they, mint, record, answer.
 * `decision` is filled in as each step passes, so a refusal is audited with what was known.
 * How a token is minted is the mode's business (./modes); everything around it is the same for all.
 */
export async function issueToken(deps: VendDeps, ctx: RequestContext, incoming: IncomingBody, decision: Decision): Promise<CoreResponse> {
  const t = deps.telemetry ?? NO_TELEMETRY;
  const caller = (decision.caller = await t.stage('caller', () => beforeMinting(() => authenticate(deps, ctx))));
  const request = await readJsonBody(incoming, tokenRequestSchema);
  Object.assign(decision, { workspace: request.workspace, mode: request.mode, managementToken: request.management_token, purpose: request.purpose });
  const ws = findWorkspace(deps, request.workspace);
  decision.servicePrincipal = ws.servicePrincipal.name;
  const entitlement = t.stage('grant', () => authorize(deps.grants, caller, { workspace: ws.name, mode: request.mode, managementToken: request.management_token }));
  const strategy = MODES[request.mode];
  strategy.check(request, caller);
  const mint = (): Promise<Vended> => t.stage('mint', () => strategy.vend({ deps, ctx, ws, request, entitlement, caller }));
  // At start the audit key may still be on its way from Key Vault: a mode that leaves nothing
  // behind mints meanwhile (the SP's secret and token in parallel with the key, not after it).
  const early = strategy.leavesNothingBehind && deps.auditKey.arriving?.() ? mint() : undefined;
  early?.catch(() => undefined);
  // No key, no audit record, so no token: checked before anything is minted, or used.
  const auditKey = await beforeMinting(() => deps.auditKey.current());
  const vended = await (early ?? mint());
  decision.scopes = vended.scopes;
  const fingerprint = fingerprintToken(vended.token, auditKey);
  const expiresOn = Math.floor(vended.expiresOnMs / 1000);
  // Fail closed: if this write throws, the token never leaves (AuditUnavailableError → 503).
  const record = buildRecord(deps, ctx, decision, 'issued', { status: 200, code: 'issued', tokenId: vended.tokenId, fingerprint, expiresOn, grantId: entitlement.grantIds.join(',') });
  await t.stage('audit', () => recordOrRevoke(() => deps.audit.record(record), vended.revoke));
  return jsonResponse(200, responseBody(deps, ctx, ws, request, vended, expiresOn), ctx.requestId);
}

function responseBody(deps: VendDeps, ctx: RequestContext, ws: Workspace, request: TokenRequest, vended: Vended, expiresOn: number): Record<string, unknown> {
  const json = tokenJson(vended.token);
  return {
    access_token: json.token,
    token_type: 'Bearer',
    expires_on: expiresOn,
    expires_in: Math.max(0, expiresOn - Math.floor(deps.clock.now() / 1000)),
    mode: request.mode,
    ...vended.fields,
    ...(vended.scopes ? { scopes: [...vended.scopes] } : {}),
    workspace: { name: ws.name, host: ws.host, resource_id: ws.resourceId },
    service_principal: { name: ws.servicePrincipal.name, client_id: ws.servicePrincipal.clientId },
    headers: { Authorization: json.bearer, ...vended.headers },
    request_id: ctx.requestId,
  };
}
