import { NAME_PATTERN, NAME_RULE } from '../config';
import type { Workspace } from '../config';
import { InvalidRequestError } from '../errors';
import { notGranted } from '../policy';
import type { CallerIdentity } from '../policy';
import type { RequestContext, VendDeps } from './vend-deps';

/** Every authenticated route starts here: who is calling, then the caller's rate limit. */
export async function authenticate(deps: VendDeps, ctx: RequestContext): Promise<CallerIdentity> {
  const caller = await deps.verifyCaller(ctx.authorization);
  deps.limiter.take(`${caller.tenantId}/${caller.objectId}`);
  return caller;
}

/**
 * A caller-chosen workspace name must have the syntax of a configured one before it goes
 * anywhere (decision, audit row, log line): control and bidi characters never get that far.
 */
export function checkWorkspaceName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new InvalidRequestError({ detail: `workspace: ${NAME_RULE}` });
  return name;
}

/**
 * An unknown name answers exactly like a workspace the caller has no grant for (403, same
 * detail), so names cannot be enumerated; the audit row still tells them apart.
 */
export function findWorkspace(deps: VendDeps, name: string): Workspace {
  const ws = deps.config.workspaces.get(name);
  if (!ws) throw notGranted(name);
  return ws;
}
