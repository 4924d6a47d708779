import type { Workspace } from '../config';
import { RateLimitedError } from '../errors';
import { callerMatches } from '../policy';
import type { CallerIdentity, CompiledGrants } from '../policy';
import { callerMarkOf } from './pat-orphans';
import type { VendDeps } from './vend-deps';

/** The largest `maxLivePats` among the caller's grants that allow PATs for this workspace. */
export function livePatCap(grants: CompiledGrants, caller: CallerIdentity, workspace: string): number {
  const caps = grants.candidates(workspace, caller).filter((g) => g.modes.has('pat') && callerMatches(g, caller)).map((g) => g.maxLivePats);
  return caps.length > 0 ? Math.max(...caps) : 0;
}

/**
 * One caller must not fill the SP's Databricks token quota (600 per user and workspace) and lock
 * every other team out of `pat` mode. Counted from the SP's own token list and the caller mark in
 * each comment, so the cap holds across instances and restarts (concurrent requests of one caller
 * may pass it by a few: the list is read, not locked).
 */
export async function enforceLivePatCap(deps: VendDeps, ws: Workspace, spToken: string, comment: string, caller: CallerIdentity): Promise<void> {
  const cap = livePatCap(deps.grants, caller, ws.name);
  const mark = callerMarkOf(comment);
  const now = deps.clock.now();
  const live = (await deps.pats.list(ws, spToken)).filter((p) => p.comment.startsWith(mark) && (p.expiresOnMs === -1 || p.expiresOnMs > now));
  if (live.length < cap) return;
  const nextExpiry = Math.min(...live.map((p) => (p.expiresOnMs === -1 ? Number.POSITIVE_INFINITY : p.expiresOnMs)));
  const wait = Number.isFinite(nextExpiry) ? Math.max(1, Math.ceil((nextExpiry - now) / 1000)) : undefined;
  throw new RateLimitedError({
    detail: `This caller holds ${live.length} live PATs for workspace "${ws.name}", the most its grant allows (${cap}): revoke one (DELETE /api/token/${ws.name}/{token_id}) or wait until one expires.`,
    ...(wait ? { retryAfterSeconds: wait } : {}),
  });
}
