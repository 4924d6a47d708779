import { InvalidRequestError } from '../../errors';
import type { ModeStrategy } from './mode-strategy';
import { mintedTokenId } from './token-id';

/** `aad`: the SP's Entra ID token for AzureDatabricks — every workspace the SP is in, every API. */
export const aadMode: ModeStrategy = {
  // Stryker disable next-line BooleanLiteral: built at import, before a run switches its mutant on (a static mutant); with false, vend-audit-key-arriving.test.ts fails
  leavesNothingBehind: true,
  check(request) {
    if (request.lifetime_seconds !== undefined) throw new InvalidRequestError({ detail: 'lifetime_seconds applies to mode "pat" only.' });
    if (request.scopes !== undefined) throw new InvalidRequestError({ detail: 'scopes apply to modes "oauth" and "pat" only: an aad token cannot be narrowed.' });
  },
  async vend({ deps, ws, request }) {
    const sp = ws.servicePrincipal;
    const [main, management] = await Promise.all([
      deps.minter.getToken(sp, deps.config.databricksScope, request.min_validity_seconds),
      request.management_token ? deps.minter.getToken(sp, deps.config.managementScope, request.min_validity_seconds) : undefined,
    ]);
    const headers: Record<string, string> = { 'X-Databricks-Azure-Workspace-Resource-Id': ws.resourceId };
    if (management) headers['X-Databricks-Azure-SP-Management-Token'] = management.token;
    return { token: main.token, tokenId: mintedTokenId(main), expiresOnMs: main.expiresOnMs, headers };
  },
};
