import { InvalidRequestError } from '../errors';
import type { CoreResponse } from '../http';
import { baseHeaders } from '../http';
import { authorize } from '../policy';
import { buildRecord } from './audit-trail';
import { authenticate, checkWorkspaceName, findWorkspace } from './authenticate';
import type { Decision } from './audit-trail';
import type { RequestContext, VendDeps } from './vend-deps';

const TOKEN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * DELETE /api/token/{workspace}/{token_id}: revokes a PAT this service created for this caller.
 * The record is written before the revocation, like an issuance: no record, no action.
 */
export async function revokeToken(deps: VendDeps, ctx: RequestContext, params: { workspace: string; tokenId: string }, decision: Decision): Promise<CoreResponse> {
  decision.caller = await authenticate(deps, ctx);
  Object.assign(decision, { mode: 'pat', managementToken: false });
  decision.workspace = checkWorkspaceName(params.workspace);
  if (!TOKEN_ID.test(params.tokenId)) throw new InvalidRequestError({ detail: 'token_id is not a Databricks token id.' });
  const ws = findWorkspace(deps, params.workspace);
  decision.servicePrincipal = ws.servicePrincipal.name;
  authorize(deps.grants, decision.caller, { workspace: ws.name, mode: 'pat', managementToken: false });
  const spToken = await deps.minter.getToken(ws.servicePrincipal, deps.config.databricksScope, 120);
  await deps.audit.record(buildRecord(deps, ctx, decision, 'revoked', { status: 204, code: 'revoked', tokenId: params.tokenId }));
  const mark = `dbx-token-vending caller=${decision.caller.tenantId}/${decision.caller.objectId} `;
  await deps.pats.revoke(ws, spToken.token, params.tokenId, mark);
  const headers = baseHeaders(ctx.requestId);
  delete headers['Content-Type'];
  return { status: 204, headers };
}
