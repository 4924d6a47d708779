export type CheckState = 'ok' | 'failing' | 'unknown' | 'missing' | 'stale';
export type CheckName = 'keyvault' | 'entra' | 'audit';

export interface HealthSnapshot {
  /** `unavailable`: the app cannot vend at all until `missing` is put right (HTTP 503). */
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly version: string;
  readonly checks: Record<string, CheckState>;
  /** What the app lacks, by setting and secret name; never a value. */
  readonly missing?: readonly string[];
}

/**
 * Health from what real traffic last saw, not from probes: an anonymous endpoint must not be
 * a way to make the service call Key Vault or Entra ID. The audit key's state comes from its
 * source, which reads the vault on its own schedule (start, then a slow poll until it has the key).
 */
export class HealthTracker {
  readonly #state = new Map<CheckName, CheckState>();
  #auditKey: { problem(): string | undefined } | undefined;
  #grants: { health(): CheckState } | undefined;

  /** Reports the API grants' freshness: `stale` while the last good set is used, `failing` once API grants admit nobody. */
  watchGrants<T extends { health(): CheckState }>(source: T): T {
    this.#grants = source;
    return source;
  }

  /** Reports the audit key's source from now on; returns it, for wiring in one expression. */
  watchAuditKey<T extends { problem(): string | undefined }>(source: T): T {
    this.#auditKey = source;
    return source;
  }

  report(name: CheckName): (ok: boolean) => void {
    return (ok) => this.#state.set(name, ok ? 'ok' : 'failing');
  }

  snapshot(version: string): HealthSnapshot {
    const checks: Record<string, CheckState> = { config: 'ok' };
    for (const name of ['keyvault', 'entra', 'audit'] as const) checks[name] = this.#state.get(name) ?? 'unknown';
    if (this.#grants) checks.grants = this.#grants.health();
    const problem = this.#auditKey?.problem();
    checks.audit_key = problem ? 'missing' : 'ok';
    if (problem) return { status: 'unavailable', version, checks, missing: [problem] };
    const degraded = Object.values(checks).some((state) => state === 'failing' || state === 'stale');
    return { status: degraded ? 'degraded' : 'ok', version, checks };
  }
}

/** 503 while the app cannot vend at all, so probes and operators see it; 200 otherwise. */
export function healthStatusCode(snapshot: HealthSnapshot): 200 | 503 {
  return snapshot.status === 'unavailable' ? 503 : 200;
}
