import { beforeMinting, InvalidRequestError } from '../../errors';
import { patComment } from '../../mint';
import { grantScopes } from '../../policy';
import { enforceLivePatCap } from '../live-pat-cap';
import { callerMarkOf, revokeOrphan } from '../pat-orphans';
import type { ModeStrategy } from './mode-strategy';

/** `pat`: a Databricks personal access token created by the SP — one workspace, revocable. */
export const patMode: ModeStrategy = {
  check(request) {
    if (request.management_token) throw new InvalidRequestError({ detail: 'management_token applies to mode "aad" only.' });
  },
  async vend({ deps, ctx, ws, request, entitlement, caller }) {
    const lifetime = request.lifetime_seconds ?? entitlement.maxLifetimeSeconds;
    if (lifetime > entitlement.maxLifetimeSeconds) {
      throw new InvalidRequestError({ detail: `lifetime_seconds must be between 60 and ${entitlement.maxLifetimeSeconds} for this workspace.` });
    }
    // Under a grant that names scopes the PAT is created with them: revocable and scoped.
    const scopes = entitlement.scopes.length || request.scopes ? grantScopes(ws.name, entitlement.scopes, entitlement.defaultScopes, request.scopes) : undefined;
    // Key Vault, Entra ID or the token list failing here leaves nothing behind: the PAT is created only after.
    const spToken = await beforeMinting(() => deps.minter.getToken(ws.servicePrincipal, deps.config.databricksScope, 120));
    const comment = patComment(caller.tenantId, caller.objectId, ctx.requestId);
    await beforeMinting(() => enforceLivePatCap(deps, ws, spToken.token, comment, caller));
    const pat = await deps.pats.create(ws, spToken.token, lifetime, comment, scopes);
    const revoke = (): Promise<string> => revokeOrphan(deps, ws, spToken.token, pat.tokenId, callerMarkOf(comment));
    return { token: pat.token, tokenId: pat.tokenId, expiresOnMs: pat.expiresOnMs, fields: { token_id: pat.tokenId }, revoke, ...(scopes ? { scopes } : {}) };
  },
};
