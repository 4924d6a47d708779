export type CheckState = 'ok' | 'failing' | 'unknown';
export type CheckName = 'keyvault' | 'entra' | 'audit';

/**
 * Health from what real traffic last saw, not from probes: an anonymous endpoint must not be
 * a way to make the service call Key Vault or Entra ID.
 */
export class HealthTracker {
  readonly #state = new Map<CheckName, CheckState>();

  report(name: CheckName): (ok: boolean) => void {
    return (ok) => this.#state.set(name, ok ? 'ok' : 'failing');
  }

  snapshot(version: string): { status: 'ok' | 'degraded'; version: string; checks: Record<string, CheckState> } {
    const checks: Record<string, CheckState> = { config: 'ok' };
    for (const name of ['keyvault', 'entra', 'audit'] as const) checks[name] = this.#state.get(name) ?? 'unknown';
    const degraded = Object.values(checks).includes('failing');
    return { status: degraded ? 'degraded' : 'ok', version, checks };
  }
}
