import type { Workspace } from '../config';
import { raceDeadline } from '../deadline';
import { AuditUnavailableError, isVendingError } from '../errors';
import type { VendDeps } from './vend-deps';

/** The part of a PAT comment that names its caller (what revocation matches on). */
export function callerMarkOf(comment: string): string {
  const at = comment.indexOf('request=');
  return at < 0 ? comment : comment.slice(0, at);
}

/**
 * Revokes a PAT that exists in the workspace but will not be handed out (its issuance could not
 * be recorded, or it arrived after the caller's deadline). Best effort and bounded; it runs
 * outside the request budget, which may already be spent. Returns a log line with ids only.
 */
export async function revokeOrphan(deps: VendDeps, ws: Workspace, spToken: string, tokenId: string, callerMark: string): Promise<string> {
  const ms = deps.deadlines?.orphanRevokeMs ?? 5_000;
  const what = `PAT ${tokenId} in workspace "${ws.name}" was created but not issued`;
  try {
    const pats = (deps.unbudgeted ?? deps).pats;
    await raceDeadline(pats.revoke(ws, spToken, tokenId, callerMark), ms, () => new Error(`no answer within ${ms} ms`));
    return `${what}; it was revoked`;
  } catch (err) {
    const reason = isVendingError(err) ? err.code : err instanceof Error && !err.stack?.includes('node_modules') ? err.message : 'error';
    return `${what}; its revocation failed (${reason}): an operator must revoke it`;
  }
}

/**
 * Fail closed for revocable tokens: when the issuance cannot be recorded, the PAT is revoked
 * before the caller hears 503, and the log (via the error's cause) names it by id, never by value.
 */
export async function recordOrRevoke(record: () => Promise<void>, revoke: (() => Promise<string>) | undefined): Promise<void> {
  try {
    await record();
  } catch (err) {
    if (!revoke) throw err;
    throw new AuditUnavailableError(new Error(await revoke(), { cause: err }));
  }
}

/** A PAT whose creation outlived the caller's deadline is revoked when it arrives; logged by id. */
export function revokeWhenLate(deps: VendDeps, ws: Workspace, spToken: string, comment: string, late: Promise<{ tokenId: string }>): void {
  late.then(
    async (pat) => console.warn(`dbx-token-vending: ${await revokeOrphan(deps, ws, spToken, pat.tokenId, callerMarkOf(comment))}`),
    () => undefined,
  );
}
