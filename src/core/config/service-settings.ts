import { APP_SETTINGS } from './settings';
import type { Env } from './read-document';

export type AuditTarget =
  | { readonly kind: 'connection-string'; readonly connectionString: string; readonly tableName: string }
  | { readonly kind: 'endpoint'; readonly endpoint: string; readonly tableName: string };

export interface ServiceSettings {
  readonly audit: AuditTarget;
  readonly auditHmacKey: Buffer;
  /** Client id of the user-assigned managed identity (Azure) or the local identity. */
  readonly azureClientId: string | undefined;
  readonly keyVaultChallengeVerification: boolean;
  readonly allowLoopbackWorkspaces: boolean;
}

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;

/** The app settings beside the config document (DESIGN §3), checked with the same rigour. */
export function readServiceSettings(env: Env, issues: string[]): ServiceSettings | undefined {
  const tableName = env[APP_SETTINGS.AUDIT_TABLE_NAME] ?? 'vendingaudit';
  if (!TABLE_NAME.test(tableName)) issues.push(`${APP_SETTINGS.AUDIT_TABLE_NAME}: must be 3-63 letters and digits, starting with a letter`);
  const audit = readAuditTarget(env, tableName, issues);
  const auditHmacKey = readHmacKey(env[APP_SETTINGS.AUDIT_HMAC_KEY], issues);
  if (!audit || !auditHmacKey) return undefined;
  return {
    audit,
    auditHmacKey,
    azureClientId: env[APP_SETTINGS.AZURE_CLIENT_ID] || undefined,
    keyVaultChallengeVerification: env.KEYVAULT_CHALLENGE_VERIFICATION !== 'off',
    allowLoopbackWorkspaces: env.VENDING_ALLOW_LOOPBACK_WORKSPACES === 'on',
  };
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

function readHmacKey(value: string | undefined, issues: string[]): Buffer | undefined {
  if (!value) {
    issues.push(`${APP_SETTINGS.AUDIT_HMAC_KEY}: missing (base64, at least 32 bytes)`);
    return undefined;
  }
  const key = Buffer.from(value, 'base64');
  if (key.length < 32 || !/^[A-Za-z0-9+/=_-]+$/.test(value)) {
    issues.push(`${APP_SETTINGS.AUDIT_HMAC_KEY}: must be base64 of at least 32 bytes`);
    return undefined;
  }
  return key;
}
