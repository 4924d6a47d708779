import { AuditUnavailableError, InvalidRequestError } from '../errors';
import type { CoreResponse } from '../http';
import { baseHeaders } from '../http';
import { authorize } from '../policy';
import { buildRecord } from './audit-trail';
import { authenticate, checkWorkspaceName, findWorkspace } from './authenticate';
import type { Decision } from './audit-trail';
import type { RequestContext, VendDeps } from './vend-deps';

/**
 * DELETE /api/token/{workspace}/{token_id}: revokes a PAT this service created for this caller.
 * Removing access needs no record first (nothing is handed out); the row says what happened.
 */
export async function revokeToken(deps: VendDeps, ctx: RequestContext, params: { workspace: string; tokenId: string }, decision: Decision): Promise<CoreResponse> {
  decision.caller = await authenticate(deps, ctx);
  Object.assign(decision, { mode: 'pat', managementToken: false });
  decision.workspace = checkWorkspaceName(params.workspace);
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(params.tokenId)) throw new InvalidRequestError({ detail: 'token_id is not a Databricks token id.' });
  const ws = findWorkspace(deps, params.workspace);
  decision.servicePrincipal = ws.servicePrincipal.name;
  authorize(deps.grants, decision.caller, { workspace: ws.name, mode: 'pat', managementToken: false });
  const spToken = await deps.minter.getToken(ws.servicePrincipal, deps.config.databricksScope, 120);
  const mark = `dbx-token-vending caller=${decision.caller.tenantId}/${decision.caller.objectId} `;
  // Ownership is checked and the PAT deleted first: a `revoked` row is only ever written for a
  // PAT that no longer works, and a refusal (not the caller's, already gone) is its only row.
  await deps.pats.revoke(ws, spToken.token, params.tokenId, mark);
  await deps.audit.record(buildRecord(deps, ctx, decision, 'revoked', { status: 204, code: 'revoked', tokenId: params.tokenId })).catch((err: unknown) => {
    throw new AuditUnavailableError(new Error(`PAT ${params.tokenId} in workspace "${ws.name}" was revoked, but the revocation could not be recorded`, { cause: err }));
  });
  const headers = baseHeaders(ctx.requestId);
  delete headers['Content-Type'];
  return { status: 204, headers };
}
