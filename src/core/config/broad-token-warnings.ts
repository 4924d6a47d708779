import type { VendingConfig } from './load-config';

/**
 * One warning per (grant, workspace) where mode aad is allowed on a workspace whose service
 * principal also serves other workspaces: the SP's Entra ID token is accepted by all of them, so
 * such a grant gives more than its workspace. Mode oauth (workspace-bound, scoped) does not.
 */
export function broadTokenWarnings(config: VendingConfig): string[] {
  const workspaces = [...config.workspaces.values()];
  const warnings: string[] = [];
  config.grants.forEach((grant, i) => {
    const ws = config.workspaces.get(grant.workspace);
    if (!ws || !grant.modes.includes('aad')) return;
    const shared = workspaces.filter((w) => w.servicePrincipal.name === ws.servicePrincipal.name && w.name !== ws.name).map((w) => w.name).sort();
    if (shared.length === 0) return;
    warnings.push(
      `grants.${i} allows mode aad on workspace "${ws.name}", whose service principal "${ws.servicePrincipal.name}" also serves ` +
        `${shared.map((n) => `"${n}"`).join(', ')}: an aad token works on all of them. Prefer mode oauth (one workspace, granted scopes) for cross-team grants.`,
    );
  });
  return warnings;
}
