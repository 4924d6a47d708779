import { decodeJwt } from 'jose';
import { fingerprintToken } from '../audit';
import type { Workspace } from '../config';
import { InvalidRequestError } from '../errors';
import { jsonResponse, readJsonBody } from '../http';
import type { CoreResponse, IncomingBody } from '../http';
import { patComment } from '../mint';
import type { MintedToken } from '../mint';
import { authorize } from '../policy';
import type { Entitlement } from '../policy';
import { buildRecord } from './audit-trail';
import { authenticate, findWorkspace } from './authenticate';
import type { Decision } from './audit-trail';
import { tokenRequestSchema } from './request-schema';
import type { TokenRequest } from './request-schema';
import type { RequestContext, VendDeps } from './vend-deps';

interface Vended {
  readonly token: string;
  readonly tokenId: string | undefined;
  readonly expiresOnMs: number;
  readonly management?: MintedToken;
}

/**
 * POST /api/token. The order is the protocol: who is calling, may they, mint, record, answer.
 * `decision` is filled in as each step passes, so a refusal is audited with what was known.
 */
export async function issueToken(deps: VendDeps, ctx: RequestContext, incoming: IncomingBody, decision: Decision): Promise<CoreResponse> {
  decision.caller = await authenticate(deps, ctx);
  const request = await readJsonBody(incoming, tokenRequestSchema);
  Object.assign(decision, { workspace: request.workspace, mode: request.mode, managementToken: request.management_token, purpose: request.purpose });
  const ws = findWorkspace(deps, request.workspace);
  decision.servicePrincipal = ws.servicePrincipal.name;
  const entitlement = authorize(deps.grants, decision.caller, { workspace: ws.name, mode: request.mode, managementToken: request.management_token });
  // No key, no audit record, so no token: checked before anything is minted.
  const auditKey = await deps.auditKey.current();
  const vended = request.mode === 'pat' ? await vendPat(deps, ctx, ws, request, entitlement, decision) : await vendAad(deps, ws, request);
  const fingerprint = fingerprintToken(vended.token, auditKey);
  const expiresOn = Math.floor(vended.expiresOnMs / 1000);
  // Fail closed: if this write throws, the token never leaves (AuditUnavailableError → 503).
  await deps.audit.record(buildRecord(deps, ctx, decision, 'issued', { status: 200, code: 'issued', tokenId: vended.tokenId, fingerprint, expiresOn }));
  return jsonResponse(200, responseBody(deps, ctx, ws, request, vended, expiresOn), ctx.requestId);
}

async function vendAad(deps: VendDeps, ws: Workspace, request: TokenRequest): Promise<Vended> {
  if (request.lifetime_seconds !== undefined) throw new InvalidRequestError({ detail: 'lifetime_seconds applies to mode "pat" only.' });
  const sp = ws.servicePrincipal;
  const [main, management] = await Promise.all([
    deps.minter.getToken(sp, deps.config.databricksScope, request.min_validity_seconds),
    request.management_token ? deps.minter.getToken(sp, deps.config.managementScope, request.min_validity_seconds) : undefined,
  ]);
  return { token: main.token, tokenId: tokenIdOf(main.token), expiresOnMs: main.expiresOnMs, ...(management ? { management } : {}) };
}

async function vendPat(deps: VendDeps, ctx: RequestContext, ws: Workspace, request: TokenRequest, entitlement: Entitlement, decision: Decision): Promise<Vended> {
  if (request.management_token) throw new InvalidRequestError({ detail: 'management_token applies to mode "aad" only.' });
  const lifetime = request.lifetime_seconds ?? entitlement.maxLifetimeSeconds;
  if (lifetime > entitlement.maxLifetimeSeconds) {
    throw new InvalidRequestError({ detail: `lifetime_seconds must be between 60 and ${entitlement.maxLifetimeSeconds} for this workspace.` });
  }
  const spToken = await deps.minter.getToken(ws.servicePrincipal, deps.config.databricksScope, 120);
  const caller = decision.caller as NonNullable<Decision['caller']>;
  const pat = await deps.pats.create(ws, spToken.token, lifetime, patComment(caller.tenantId, caller.objectId, ctx.requestId));
  return { token: pat.token, tokenId: pat.tokenId, expiresOnMs: pat.expiresOnMs };
}

/** The minted token's `uti` (Entra ID's unique token id) or `jti`: an identifier, never the token. */
function tokenIdOf(token: string): string | undefined {
  try {
    const claims = decodeJwt(token);
    const id = claims.uti ?? claims.jti;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function responseBody(deps: VendDeps, ctx: RequestContext, ws: Workspace, request: TokenRequest, vended: Vended, expiresOn: number): Record<string, unknown> {
  const headers: Record<string, string> = { Authorization: `Bearer ${vended.token}` };
  if (request.mode === 'aad') headers['X-Databricks-Azure-Workspace-Resource-Id'] = ws.resourceId;
  if (vended.management) headers['X-Databricks-Azure-SP-Management-Token'] = vended.management.token;
  return {
    access_token: vended.token,
    token_type: 'Bearer',
    expires_on: expiresOn,
    expires_in: Math.max(0, expiresOn - Math.floor(deps.clock.now() / 1000)),
    mode: request.mode,
    ...(request.mode === 'pat' ? { token_id: vended.tokenId } : {}),
    workspace: { name: ws.name, host: ws.host, resource_id: ws.resourceId },
    service_principal: { name: ws.servicePrincipal.name, client_id: ws.servicePrincipal.clientId },
    headers,
    request_id: ctx.requestId,
  };
}
