import type { PrincipalsDocument } from '../config';
import type { CallerIdentity } from './caller-identity';

/** Owners or admins, ready for matching: sets, ids lower-cased once. */
export interface CompiledPrincipals {
  readonly tenants: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  readonly appIds: ReadonlySet<string>;
  readonly objectIds: ReadonlySet<string>;
}

export const NOBODY: CompiledPrincipals = Object.freeze({ tenants: new Set<string>(), roles: new Set<string>(), appIds: new Set<string>(), objectIds: new Set<string>() });

export function compilePrincipals(doc: PrincipalsDocument | undefined, homeTenantId: string): CompiledPrincipals {
  if (!doc) return NOBODY;
  return Object.freeze({
    tenants: new Set((doc.tenants ?? [homeTenantId]).map((id) => id.toLowerCase())),
    roles: new Set(doc.roles),
    appIds: new Set(doc.appIds.map((id) => id.toLowerCase())),
    objectIds: new Set(doc.objectIds.map((id) => id.toLowerCase())),
  });
}

/**
 * The tenant first (roles are per tenant); then a role, the app acting as itself (an app-only
 * token: a user signed in through that app is not the app), or the caller's object id or one of
 * its groups. Pure, like grant matching.
 */
export function principalMatches(p: CompiledPrincipals, caller: CallerIdentity): boolean {
  if (!p.tenants.has(caller.tenantId.toLowerCase())) return false;
  return (
    caller.roles.some((role) => p.roles.has(role)) ||
    (caller.kind === 'app' && p.appIds.has(caller.appId.toLowerCase())) ||
    p.objectIds.has(caller.objectId.toLowerCase()) ||
    (caller.groups?.some((g) => p.objectIds.has(g)) ?? false)
  );
}
