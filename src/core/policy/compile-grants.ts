import type { GrantDocument } from '../config';
import { normalizeScopes } from './api-scopes';

export type Mode = 'aad' | 'pat' | 'oauth' | 'user';


/** A grant's live-PAT cap when it names none: well under Databricks' 600 per SP, shared by every caller of the SP. */
export const DEFAULT_MAX_LIVE_PATS = 20;
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
 * Compiled once at start-up. Role names compare exactly (Entra ID emits them as defined);
 * GUIDs compare case-insensitively because tokens and portals disagree on case.
 *
 * A grant is bound to tenants because app roles are not: each allowed tenant's admins decide
 * who holds the API's roles there. Without `tenants`, only the home tenant's principals match.
 */
export function compileGrants(grants: readonly GrantDocument[], homeTenantId: string): readonly CompiledGrant[] {
  return Object.freeze(grants.map((g, i) => compileGrant(g, homeTenantId, `config:${i}`)));
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
