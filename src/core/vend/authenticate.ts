import type { Workspace } from '../config';
import { UnknownWorkspaceError } from '../errors';
import type { CallerIdentity } from '../policy';
import type { RequestContext, VendDeps } from './vend-deps';

/** Every authenticated route starts here: who is calling, then the caller's rate limit. */
export async function authenticate(deps: VendDeps, ctx: RequestContext): Promise<CallerIdentity> {
  const caller = await deps.verifyCaller(ctx.authorization);
  deps.limiter.take(`${caller.tenantId}/${caller.objectId}`);
  return caller;
}

export function findWorkspace(deps: VendDeps, name: string): Workspace {
  const ws = deps.config.workspaces.get(name);
  if (!ws) throw new UnknownWorkspaceError({ detail: `No workspace named "${name}" is configured.` });
  return ws;
}
