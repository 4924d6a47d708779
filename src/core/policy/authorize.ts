import { NotGrantedError } from '../errors';
import { normalizeScopes } from './api-scopes';
import type { CallerIdentity } from './caller-identity';
import type { CallerMatcher, CompiledGrant, CompiledGrants, Mode } from './compile-grants';

export interface AccessRequest {
  readonly workspace: string;
  readonly mode: Mode;
  readonly managementToken: boolean;
}

/** What the matching grants allow together for one workspace. */
export interface Entitlement {
  readonly workspace: string;
  readonly modes: ReadonlySet<Mode>;
  readonly maxLifetimeSeconds: number;
  readonly managementToken: boolean;
  /** The union of the matching grants' scopes and default scopes. */
  readonly scopes: readonly string[];
  readonly defaultScopes: readonly string[];
  /** The grants that admitted the caller (config index or API id), for the audit record. */
  readonly grantIds: readonly string[];
}

/** Same words for "no grant" and "no such workspace": names cannot be enumerated by probing. */
export function notGranted(workspace: string): NotGrantedError {
  return new NotGrantedError({ detail: `Not granted, or no such workspace: "${workspace}".` });
}

/**
 * The caller's tenant first: a role or id match from a tenant the grant does not admit counts for
 * nothing. `appIds` names an application acting as itself: only an app-only token matches it. A
 * delegated token that merely comes through that app is a user, granted by `objectIds`, by an app
 * role assigned to them, or — only where a grant says so explicitly — by `usersViaAppIds`.
 */
export function callerMatches(grant: CallerMatcher, caller: CallerIdentity): boolean {
  if (!grant.tenants.has(caller.tenantId.toLowerCase())) return false;
  const appId = caller.appId.toLowerCase();
  return (
    caller.roles.some((role) => grant.roles.has(role)) ||
    (caller.kind === 'app' && grant.appIds.has(appId)) ||
    (caller.kind === 'user' && grant.usersViaAppIds.has(appId)) ||
    grant.objectIds.has(caller.objectId.toLowerCase())
  );
}

/**
 * Pure decision: the grants that name this caller for this workspace and allow the mode (and
 * the management token, if asked). Throws NotGrantedError otherwise; the detail says which
 * part was missing but never lists the grants.
 */
export function authorize(grants: CompiledGrants, caller: CallerIdentity, request: AccessRequest): Entitlement {
  const forCaller = grants.candidates(request.workspace, caller).filter((g) => callerMatches(g, caller));
  if (forCaller.length === 0) {
    throw notGranted(request.workspace);
  }
  const withMode = forCaller.filter((g) => g.modes.has(request.mode));
  if (withMode.length === 0) {
    throw new NotGrantedError({ detail: `This caller's grant for "${request.workspace}" does not allow mode "${request.mode}".` });
  }
  const allowed = request.managementToken ? withMode.filter((g) => g.managementToken) : withMode;
  if (allowed.length === 0) {
    throw new NotGrantedError({ detail: `This caller's grant for "${request.workspace}" does not allow the management token.` });
  }
  return merge(request.workspace, allowed);
}

/** Every workspace this caller may vend for, with what its grants allow together. */
export function entitlementsOf(grants: CompiledGrants, caller: CallerIdentity): Entitlement[] {
  const byWorkspace = new Map<string, CompiledGrant[]>();
  for (const g of grants.all) {
    if (callerMatches(g, caller)) byWorkspace.set(g.workspace, [...(byWorkspace.get(g.workspace) ?? []), g]);
  }
  return [...byWorkspace].map(([workspace, list]) => merge(workspace, list));
}

/** What one grant allows on its own (the usual case: one grant admits the caller), computed once per compiled grant. */
const single = new WeakMap<CompiledGrant, Entitlement>();

/** Every caller passes grants of this one workspace (found by it, or grouped by it). */
function merge(workspace: string, grants: readonly CompiledGrant[]): Entitlement {
  const only = grants.length === 1 ? grants[0] : undefined;
  if (only) {
    const known = single.get(only);
    if (known) return known;
    const entitlement = Object.freeze(combine(workspace, grants));
    single.set(only, entitlement);
    return entitlement;
  }
  return combine(workspace, grants);
}

function combine(workspace: string, grants: readonly CompiledGrant[]): Entitlement {
  return {
    workspace,
    modes: new Set(grants.flatMap((g) => [...g.modes])),
    maxLifetimeSeconds: Math.max(...grants.map((g) => g.maxLifetimeSeconds)),
    managementToken: grants.some((g) => g.managementToken),
    scopes: normalizeScopes(grants.flatMap((g) => g.scopes)),
    defaultScopes: normalizeScopes(grants.flatMap((g) => g.defaultScopes)),
    grantIds: grants.map((g) => g.id),
  };
}
