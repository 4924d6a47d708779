import { APP_SETTINGS, TELEMETRY_SETTINGS } from './settings';
import type { Env } from './read-document';

export type AuditTarget =
  | { readonly kind: 'connection-string'; readonly connectionString: string; readonly tableName: string }
  | { readonly kind: 'endpoint'; readonly endpoint: string; readonly tableName: string };

/**
 * Where the audit fingerprint key comes from: the value itself (AUDIT_HMAC_KEY, local runs and
 * tests) or a Key Vault secret read at run time. A missing key is not a start-up error: the app
 * starts and says what it lacks until the secret exists (DESIGN §8).
 */
export type AuditKeySetting =
  | { readonly kind: 'value'; readonly key: Buffer }
  | {
      readonly kind: 'secret';
      readonly secretName: string;
      /** AUDIT_HMAC_KEY held App Service's unresolved `@Microsoft.KeyVault(...)` text: reported, never used. */
      readonly unresolvedReference: boolean;
    };

/** The grants table: same shapes as the audit target (identity auth in Azure, a connection string locally). */
export type GrantsTarget = AuditTarget;

export interface ServiceSettings {
  readonly audit: AuditTarget;
  readonly grants: GrantsTarget;
  readonly auditKey: AuditKeySetting;
  /** Client id of the user-assigned managed identity (Azure) or the local identity. */
  readonly azureClientId: string | undefined;
  readonly keyVaultChallengeVerification: boolean;
  readonly allowLoopbackWorkspaces: boolean;
  /** The overall budget of one request, ms (local-only override, for tests; default 20 s). */
  readonly requestBudgetMs: number | undefined;
  /** Application Insights (host-level settings): the connection string turns the app's telemetry on. */
  readonly telemetry: { readonly connectionString: string | undefined; readonly authenticationString: string | undefined; readonly samplingRatio: number };
}

export const DEFAULT_AUDIT_HMAC_SECRET_NAME = 'audit-hmac-key';
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
const MIN_KEY_BYTES = 32;

/** The app settings beside the config document (DESIGN §3), checked with the same rigour. */
export function readServiceSettings(env: Env, issues: string[]): ServiceSettings | undefined {
  const tableName = env[APP_SETTINGS.AUDIT_TABLE_NAME] ?? 'vendingaudit';
  if (!TABLE_NAME.test(tableName)) issues.push(`${APP_SETTINGS.AUDIT_TABLE_NAME}: must be 3-63 letters and digits, starting with a letter`);
  const audit = readAuditTarget(env, tableName, issues);
  const auditKey = readAuditKeySetting(env, issues);
  const grants = readGrantsTarget(env, audit, issues);
  if (!audit || !auditKey || !grants) return undefined;
  return {
    audit,
    grants,
    auditKey,
    azureClientId: env[APP_SETTINGS.AZURE_CLIENT_ID] || undefined,
    keyVaultChallengeVerification: env[APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION] !== 'off',
    allowLoopbackWorkspaces: env[APP_SETTINGS.VENDING_ALLOW_LOOPBACK_WORKSPACES] === 'on',
    requestBudgetMs: readBudget(env[APP_SETTINGS.VENDING_REQUEST_BUDGET_MS], issues),
    telemetry: {
      connectionString: env[TELEMETRY_SETTINGS.CONNECTION_STRING] || undefined,
      authenticationString: env[TELEMETRY_SETTINGS.AUTHENTICATION_STRING] || undefined,
      samplingRatio: readRatio(env[TELEMETRY_SETTINGS.SAMPLING_RATIO], issues),
    },
  };
}

/** Traces kept, 0…1; default all. Metrics are never sampled. */
function readRatio(value: string | undefined, issues: string[]): number {
  if (value === undefined || value === '') return 1;
  const ratio = Number(value);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) issues.push(`${TELEMETRY_SETTINGS.SAMPLING_RATIO}: must be a number from 0 to 1 (the share of traces sent)`);
  return ratio;
}

function readAuditTarget(env: Env, tableName: string, issues: string[]): AuditTarget | undefined {
  const connectionString = env[APP_SETTINGS.AUDIT_CONNECTION_STRING];
  const endpoint = env[APP_SETTINGS.AUDIT_TABLE_ENDPOINT];
  if (connectionString) return { kind: 'connection-string', connectionString, tableName };
  if (!endpoint) {
    issues.push(`${APP_SETTINGS.AUDIT_TABLE_ENDPOINT}: missing (no audit sink, no tokens)`);
    return undefined;
  }
  if (!/^https:\/\/[^\s/]+\/?$/.test(endpoint)) {
    issues.push(`${APP_SETTINGS.AUDIT_TABLE_ENDPOINT}: must be an https endpoint such as https://<account>.table.core.windows.net`);
    return undefined;
  }
  return { kind: 'endpoint', endpoint, tableName };
}

/**
 * The grants table: its own settings when given, otherwise a table of that name in the audit
 * table's account (the template gives both, each table with its own role for the app).
 */
function readGrantsTarget(env: Env, audit: AuditTarget | undefined, issues: string[]): GrantsTarget | undefined {
  const tableName = env[APP_SETTINGS.GRANTS_TABLE_NAME] ?? 'vendinggrants';
  if (!TABLE_NAME.test(tableName)) {
    issues.push(`${APP_SETTINGS.GRANTS_TABLE_NAME}: must be 3-63 letters and digits, starting with a letter`);
    return undefined;
  }
  if (audit && tableName.toLowerCase() === audit.tableName.toLowerCase()) {
    issues.push(`${APP_SETTINGS.GRANTS_TABLE_NAME}: must differ from ${APP_SETTINGS.AUDIT_TABLE_NAME} (the audit table is append-only)`);
    return undefined;
  }
  const connectionString = env[APP_SETTINGS.GRANTS_CONNECTION_STRING];
  const endpoint = env[APP_SETTINGS.GRANTS_TABLE_ENDPOINT];
  if (connectionString) return { kind: 'connection-string', connectionString, tableName };
  if (endpoint && !/^https:\/\/[^\s/]+\/?$/.test(endpoint)) {
    issues.push(`${APP_SETTINGS.GRANTS_TABLE_ENDPOINT}: must be an https endpoint such as https://<account>.table.core.windows.net`);
    return undefined;
  }
  if (endpoint) return { kind: 'endpoint', endpoint, tableName };
  return audit ? { ...audit, tableName } : undefined;
}

/** App Service hands the app this text, unchanged, when it cannot resolve a Key Vault reference. */
export function isUnresolvedKeyVaultReference(value: string): boolean {
  return /^\s*@Microsoft\.KeyVault\(/i.test(value);
}

function readAuditKeySetting(env: Env, issues: string[]): AuditKeySetting | undefined {
  const secretName = env[APP_SETTINGS.AUDIT_HMAC_SECRET_NAME] || DEFAULT_AUDIT_HMAC_SECRET_NAME;
  if (!SECRET_NAME.test(secretName)) {
    issues.push(`${APP_SETTINGS.AUDIT_HMAC_SECRET_NAME}: must be a Key Vault secret name (1-127 letters, digits and dashes)`);
    return undefined;
  }
  const value = env[APP_SETTINGS.AUDIT_HMAC_KEY];
  if (!value) return { kind: 'secret', secretName, unresolvedReference: false };
  if (isUnresolvedKeyVaultReference(value)) return { kind: 'secret', secretName, unresolvedReference: true };
  const key = parseAuditKey(value);
  if (!key) {
    // A key given by hand that is wrong is a configuration mistake, reported like any other.
    issues.push(`${APP_SETTINGS.AUDIT_HMAC_KEY}: must be base64 of at least ${MIN_KEY_BYTES} bytes`);
    return undefined;
  }
  return { kind: 'value', key };
}

/** The key bytes, or undefined when the text is not base64 of at least 32 bytes. */
export function parseAuditKey(value: string): Buffer | undefined {
  const text = value.trim();
  if (!/^[A-Za-z0-9+/=_-]+$/.test(text)) return undefined;
  const key = Buffer.from(text, 'base64');
  return key.length >= MIN_KEY_BYTES ? key : undefined;
}

function readBudget(value: string | undefined, issues: string[]): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 500 || ms > 60_000) issues.push('VENDING_REQUEST_BUDGET_MS: must be an integer between 500 and 60000');
  return ms;
}
