/**
 * The service's time limits. The request budget (20 s) is well under the 230 s Azure's front
 * end allows an HTTP-triggered function, and under the 30-60 s a typical HTTP client waits; each
 * upstream call has its own, smaller deadline, so a refusal can still be recorded within the
 * budget. Tests scale all of them down together (a local-only setting), never one by one.
 */
export interface Deadlines {
  /** The whole request, from arrival to answer. */
  readonly budgetMs: number;
  /** OIDC discovery and the signing keys. */
  readonly signingKeysMs: number;
  /** One Key Vault read. */
  readonly keyVaultMs: number;
  /** One call to the Entra ID token endpoint (through the credential). */
  readonly entraMs: number;
  /** One call to the Databricks token API. */
  readonly databricksMs: number;
  /** One audit write (a refusal is recorded after a timed-out call, within the budget). */
  readonly auditMs: number;
  /** Best-effort revocation of a PAT that could not be recorded. */
  readonly orphanRevokeMs: number;
}

export const DEFAULT_BUDGET_MS = 20_000;

/** Each deadline as a share of the budget, so a scaled budget keeps their proportions. */
export function deadlinesFor(budgetMs: number = DEFAULT_BUDGET_MS): Deadlines {
  const share = (fraction: number): number => Math.round(budgetMs * fraction);
  return {
    budgetMs,
    signingKeysMs: share(0.25),
    keyVaultMs: share(0.4),
    entraMs: share(0.5),
    databricksMs: share(0.5),
    auditMs: share(0.2),
    orphanRevokeMs: share(0.25),
  };
}

/** Seconds after which a call abandoned at its deadline no longer blocks a fresh attempt. */
export function retryAfterFor(callMs: number): number {
  return Math.max(1, Math.ceil(callMs / 1000));
}
