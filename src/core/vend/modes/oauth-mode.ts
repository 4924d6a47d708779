import { beforeMinting, InvalidRequestError, UpstreamRejectedError } from '../../errors';
import { grantScopes } from '../../policy';
import type { ModeStrategy } from './mode-strategy';
import { mintedTokenId } from './token-id';

/**
 * `oauth`: a Databricks OAuth token from the workspace itself (token federation): valid on that
 * workspace only, for the granted API scopes only. Cached per caller as well as per SP, workspace
 * and scope set, so each token traces to exactly one caller in the audit trail.
 */
export const oauthMode: ModeStrategy = {
  check(request) {
    if (request.lifetime_seconds !== undefined) throw new InvalidRequestError({ detail: 'lifetime_seconds applies to mode "pat" only; an oauth token lives as long as the workspace grants.' });
    if (request.management_token) throw new InvalidRequestError({ detail: 'management_token applies to mode "aad" only.' });
  },
  async vend({ deps, ws, request, entitlement, caller }) {
    const scopes = grantScopes(ws.name, entitlement.scopes, entitlement.defaultScopes, request.scopes);
    const sp = ws.servicePrincipal;
    const key = [caller.tenantId, caller.objectId, sp.name, ws.name, scopes.join(' ')].join('\u0000');
    const minted = await deps.oauthTokens.get(key, request.min_validity_seconds, async () => {
      const subject = await beforeMinting(() => deps.minter.getToken(sp, sp.federationScope, request.min_validity_seconds));
      return deps.oauth.exchange(ws, subject.token, scopes);
    });
    if (minted.expiresOnMs - deps.clock.now() < request.min_validity_seconds * 1000) {
      throw new UpstreamRejectedError({ detail: `Databricks workspace "${ws.name}" issued a token valid for less than the ${request.min_validity_seconds} s asked for.` });
    }
    return { token: minted.token, tokenId: mintedTokenId(minted), expiresOnMs: minted.expiresOnMs, scopes: minted.scopes };
  },
};
