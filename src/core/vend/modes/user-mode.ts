import { InvalidRequestError, UpstreamRejectedError } from '../../errors';
import type { ModeStrategy } from './mode-strategy';
import { mintedTokenId } from './token-id';

/**
 * `user`: on-behalf-of. The delegated caller's own AzureDatabricks token, so Databricks and Unity
 * Catalog see the person, not a shared SP. The caller's token is the user assertion; it goes to
 * Entra ID only, never to a log, an error or the audit.
 */
export const userMode: ModeStrategy = {
  check(request, caller) {
    if (caller.kind !== 'user') {
      throw new InvalidRequestError({ detail: 'mode "user" is for delegated (user) callers only: an app-only token has no user to act for. Use "oauth", "pat" or "aad".' });
    }
    if (request.lifetime_seconds !== undefined || request.management_token || request.scopes !== undefined) {
      throw new InvalidRequestError({ detail: 'mode "user" takes none of lifetime_seconds, management_token or scopes: the token is the user\'s own.' });
    }
  },
  async vend({ deps, ctx, ws, request, caller }) {
    if (!deps.onBehalfOf) throw new UpstreamRejectedError({ detail: 'mode "user" is not configured: the operators should set onBehalfOf.clientId (the vending API app registration).' });
    const header = ctx.authorization ? /^Bearer +(\S+)$/i.exec(ctx.authorization.trim()) : null;
    const assertion = header?.[1] ?? '';
    const minted = await deps.onBehalfOf.getUserToken(caller, assertion, deps.config.databricksScope, request.min_validity_seconds);
    if (minted.expiresOnMs - deps.clock.now() < request.min_validity_seconds * 1000) {
      throw new UpstreamRejectedError({ detail: `Entra ID issued an on-behalf-of token valid for less than the ${request.min_validity_seconds} s asked for.` });
    }
    return { token: minted.token, tokenId: mintedTokenId(minted), expiresOnMs: minted.expiresOnMs, headers: { 'X-Databricks-Azure-Workspace-Resource-Id': ws.resourceId } };
  },
};
