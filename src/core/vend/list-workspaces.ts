import type { CoreResponse } from '../http';
import { jsonResponse } from '../http';
import { entitlementsOf } from '../policy';
import { authenticate } from './authenticate';
import type { RequestContext, VendDeps } from './vend-deps';

/** GET /api/workspaces: what this caller may vend for. Other workspaces are not revealed. */
export async function listWorkspaces(deps: VendDeps, ctx: RequestContext): Promise<CoreResponse> {
  const caller = await authenticate(deps, ctx);
  const items = entitlementsOf(deps.grants, caller).flatMap((e) => {
    const ws = deps.config.workspaces.get(e.workspace);
    if (!ws) return [];
    return [{ name: ws.name, host: ws.host, resource_id: ws.resourceId, modes: [...e.modes].sort(), max_lifetime_seconds: e.maxLifetimeSeconds, management_token: e.managementToken, ...(e.scopes.length ? { scopes: [...e.scopes], default_scopes: [...e.defaultScopes] } : {}) }];
  });
  return jsonResponse(200, items.sort((a, b) => a.name.localeCompare(b.name)), ctx.requestId);
}
