import type { AuditorsDocument, GrantDocument } from '../config';
import { normalizeScopes } from './api-scopes';

export type Mode = 'aad' | 'pat' | 'oauth' | 'user';

/** A grant's live-PAT cap when it names none: well under Databricks' 600 per SP, shared by every caller of the SP. */
export const DEFAULT_MAX_LIVE_PATS = 20;

/** The caller part of a grant: whom it names, in which tenants (also what the auditors setting compiles to). */
export type CallerMatcher = Pick<CompiledGrant, 'tenants' | 'roles' | 'appIds' | 'objectIds' | 'usersViaAppIds'>;

/** A grant ready for matching: sets instead of arrays, ids lower-cased once. */
export interface CompiledGrant {
  /** `config:<index>` for a grant of the config document, the grant's id for one made through the API. */
  readonly id: string;
  /** API grants only: epoch ms after which the grant admits nobody. */
  readonly expiresAtMs?: number;
  readonly workspace: string;
  /** The tenants whose principals this grant admits: the home tenant unless the grant names others. */
  readonly tenants: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  readonly appIds: ReadonlySet<string>;
  readonly objectIds: ReadonlySet<string>;
  /** Client apps through which *users* (delegated tokens) are granted; explicit, never implied by appIds. */
  readonly usersViaAppIds: ReadonlySet<string>;
  readonly modes: ReadonlySet<Mode>;
  readonly maxLifetimeSeconds: number;
  readonly managementToken: boolean;
  /** Databricks API scopes a caller may ask for; empty: the grant names none (pat stays unscoped). */
  readonly scopes: readonly string[];
  readonly defaultScopes: readonly string[];
  readonly maxLivePats: number;
}

/**
 * The compiled grants, indexed by workspace: a decision looks only at the grants of the workspace
 * asked for, so its cost does not grow with the number of grants in the configuration.
 */
export interface CompiledGrants {
  readonly all: readonly CompiledGrant[];
  /** The grants for one workspace, in configuration order (empty for an unknown name). */
  forWorkspace(workspace: string): readonly CompiledGrant[];
  /**
   * The grants of one workspace that name one of these principals (a role, the app id as an app or
   * for its users, the object id), in configuration order: a superset of those that match the
   * caller (tenant and kind are still to be checked), found without looking at any other grant.
   */
  candidates(workspace: string, principals: Principals): readonly CompiledGrant[];
}

/** A caller's names as grants list them. */
export interface Principals {
  readonly roles: readonly string[];
  readonly appId: string;
  readonly objectId: string;
  /** Group object ids (lower-cased): looked up like object ids, so the candidates stay a superset. */
  readonly groups?: readonly string[];
}

const NONE: readonly CompiledGrant[] = Object.freeze([]);

/**
 * Compiled once at start-up. Role names compare exactly (Entra ID emits them as defined);
 * GUIDs compare case-insensitively because tokens and portals disagree on case.
 *
 * A grant is bound to tenants because app roles are not: each allowed tenant's admins decide
 * who holds the API's roles there. Without `tenants`, only the home tenant's principals match.
 */
export function compileGrants(grants: readonly GrantDocument[], homeTenantId: string): CompiledGrants {
  return indexGrants(grants.map((g, i) => compileGrant(g, homeTenantId, `config:${i}`)));
}

/**
 * Indexes compiled grants (config and API alike) by workspace, keeping their order, and within a
 * workspace by each principal they name, so a decision costs the same with 1,000 grants as with 1.
 */
export function indexGrants(grants: readonly CompiledGrant[]): CompiledGrants {
  const all = Object.freeze([...grants]);
  const byWorkspace = new Map<string, CompiledGrant[]>();
  for (const grant of all) {
    const list = byWorkspace.get(grant.workspace);
    if (list) list.push(grant);
    else byWorkspace.set(grant.workspace, [grant]);
  }
  const byPrincipal = new Map<string, { readonly list: readonly CompiledGrant[]; readonly index: Map<string, number[]> }>();
  for (const [workspace, list] of byWorkspace) byPrincipal.set(workspace, { list: Object.freeze(list), index: principalIndex(list) });
  const candidates = (workspace: string, who: Principals): readonly CompiledGrant[] => {
    const entry = byPrincipal.get(workspace);
    if (!entry) return NONE;
    const keys = [...who.roles.map((r) => `r:${r}`), `a:${who.appId.toLowerCase()}`, `o:${who.objectId.toLowerCase()}`, ...(who.groups?.map((g) => `o:${g}`) ?? [])];
    // A grant found under several keys counts once; positions sorted back into configuration order.
    const hits = new Set(keys.flatMap((k) => entry.index.get(k) ?? []));
    return [...hits].sort((a, b) => a - b).map((i) => entry.list[i]);
  };
  return Object.freeze({ all, forWorkspace: (workspace: string) => byWorkspace.get(workspace) ?? NONE, candidates });
}

/** Principal key (`r:` role, `a:` app id, also for usersViaAppIds, `o:` object id) → positions in the workspace's list. */
function principalIndex(list: readonly CompiledGrant[]): Map<string, number[]> {
  const index = new Map<string, number[]>();
  // A position may be listed twice under one key (an app in appIds and usersViaAppIds): candidates() de-duplicates.
  const add = (key: string, i: number): void => {
    const at = index.get(key);
    if (at) at.push(i);
    else index.set(key, [i]);
  };
  list.forEach((g, i) => {
    for (const role of g.roles) add(`r:${role}`, i);
    for (const app of [...g.appIds, ...g.usersViaAppIds]) add(`a:${app}`, i);
    for (const oid of g.objectIds) add(`o:${oid}`, i);
  });
  return index;
}

/** One grant, config or API: after this step both are the same type and match the same way. */
export function compileGrant(g: GrantDocument, homeTenantId: string, id: string, expiresAtMs?: number): CompiledGrant {
  return Object.freeze({
    id,
    ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
    workspace: g.workspace,
    tenants: new Set((g.tenants ?? [homeTenantId]).map((t) => t.toLowerCase())),
    roles: new Set(g.callers.roles),
    appIds: new Set(g.callers.appIds.map((a) => a.toLowerCase())),
    objectIds: new Set(g.callers.objectIds.map((o) => o.toLowerCase())),
    usersViaAppIds: new Set((g.callers.usersViaAppIds ?? []).map((a) => a.toLowerCase())),
    modes: new Set(g.modes),
    maxLifetimeSeconds: g.maxLifetimeSeconds,
    managementToken: g.managementToken,
    scopes: Object.freeze(normalizeScopes(g.scopes ?? [])),
    defaultScopes: Object.freeze(normalizeScopes(g.defaultScopes ?? [])),
    maxLivePats: g.maxLivePats ?? DEFAULT_MAX_LIVE_PATS,
  });
}

/** The auditors setting as a caller matcher, compiled like a grant's callers; undefined (no one) when absent. */
export function compileAuditors(doc: AuditorsDocument | undefined, homeTenantId: string): CallerMatcher | undefined {
  if (!doc) return undefined;
  return Object.freeze({
    tenants: new Set((doc.tenants ?? [homeTenantId]).map((id) => id.toLowerCase())),
    roles: new Set(doc.callers.roles),
    appIds: new Set(doc.callers.appIds.map((id) => id.toLowerCase())),
    objectIds: new Set(doc.callers.objectIds.map((id) => id.toLowerCase())),
    usersViaAppIds: new Set<string>(),
  });
}
