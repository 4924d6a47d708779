import type { GrantDocument } from '../config';

export type Mode = 'aad' | 'pat';

/** A grant ready for matching: sets instead of arrays, ids lower-cased once. */
export interface CompiledGrant {
  readonly workspace: string;
  readonly roles: ReadonlySet<string>;
  readonly appIds: ReadonlySet<string>;
  readonly objectIds: ReadonlySet<string>;
  readonly modes: ReadonlySet<Mode>;
  readonly maxLifetimeSeconds: number;
  readonly managementToken: boolean;
}

/**
 * Compiled once at start-up. Role names compare exactly (Entra ID emits them as defined);
 * GUIDs compare case-insensitively because tokens and portals disagree on case.
 */
export function compileGrants(grants: readonly GrantDocument[]): readonly CompiledGrant[] {
  return Object.freeze(
    grants.map((g) =>
      Object.freeze({
        workspace: g.workspace,
        roles: new Set(g.callers.roles),
        appIds: new Set(g.callers.appIds.map((id) => id.toLowerCase())),
        objectIds: new Set(g.callers.objectIds.map((id) => id.toLowerCase())),
        modes: new Set(g.modes),
        maxLifetimeSeconds: g.maxLifetimeSeconds,
        managementToken: g.managementToken,
      }),
    ),
  );
}
