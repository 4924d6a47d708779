/**
 * Every app setting the function reads, by name. Infra sets exactly these (its test imports this
 * list), so a renamed setting breaks the build instead of a deployment.
 *
 * `required`: the app does not start without it in Azure. Local-only switches are listed apart:
 * they must never be set by the template.
 */
export const APP_SETTINGS = {
  VENDING_CONFIG: 'VENDING_CONFIG',
  VENDING_CONFIG_FILE: 'VENDING_CONFIG_FILE',
  AZURE_CLIENT_ID: 'AZURE_CLIENT_ID',
  AUDIT_TABLE_ENDPOINT: 'AUDIT_TABLE_ENDPOINT',
  AUDIT_TABLE_NAME: 'AUDIT_TABLE_NAME',
  AUDIT_CONNECTION_STRING: 'AUDIT_CONNECTION_STRING',
  AUDIT_HMAC_SECRET_NAME: 'AUDIT_HMAC_SECRET_NAME',
  AUDIT_HMAC_KEY: 'AUDIT_HMAC_KEY',
  GRANTS_TABLE_ENDPOINT: 'GRANTS_TABLE_ENDPOINT',
  GRANTS_TABLE_NAME: 'GRANTS_TABLE_NAME',
  GRANTS_CONNECTION_STRING: 'GRANTS_CONNECTION_STRING',
  AZURE_AUTHORITY_HOST: 'AZURE_AUTHORITY_HOST',
  DATABRICKS_RESOURCE_ID: 'DATABRICKS_RESOURCE_ID',
  AZURE_MANAGEMENT_SCOPE: 'AZURE_MANAGEMENT_SCOPE',
  KEYVAULT_CHALLENGE_VERIFICATION: 'KEYVAULT_CHALLENGE_VERIFICATION',
  VENDING_ALLOW_LOOPBACK_WORKSPACES: 'VENDING_ALLOW_LOOPBACK_WORKSPACES',
  VENDING_REQUEST_BUDGET_MS: 'VENDING_REQUEST_BUDGET_MS',
} as const;

/**
 * Host-level settings the app reads too: the Functions host's own Application Insights pair, which
 * the template sets beside (not among) the app's settings. Without the connection string the app
 * sends no telemetry of its own.
 */
export const TELEMETRY_SETTINGS = {
  CONNECTION_STRING: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  AUTHENTICATION_STRING: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  /** The share of traces kept, 0…1 (the Azure Monitor distribution's name for its fixed-percentage sampler's ratio). */
  SAMPLING_RATIO: 'OTEL_TRACES_SAMPLER_ARG',
} as const;

export type TelemetrySettingName = (typeof TELEMETRY_SETTINGS)[keyof typeof TELEMETRY_SETTINGS];

export type AppSettingName = (typeof APP_SETTINGS)[keyof typeof APP_SETTINGS];

/**
 * Emulator and local-trust switches (DESIGN §6), and the audit key given as a value (Azure reads it
 * from Key Vault by AUDIT_HMAC_SECRET_NAME). Never set in Azure; infra tests assert that.
 */
export const LOCAL_ONLY_SETTINGS: readonly string[] = [
  APP_SETTINGS.AUDIT_CONNECTION_STRING,
  APP_SETTINGS.GRANTS_CONNECTION_STRING,
  APP_SETTINGS.AUDIT_HMAC_KEY,
  APP_SETTINGS.VENDING_CONFIG_FILE,
  'NODE_EXTRA_CA_CERTS',
  APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION,
  APP_SETTINGS.VENDING_ALLOW_LOOPBACK_WORKSPACES,
  APP_SETTINGS.VENDING_REQUEST_BUDGET_MS,
  'AZURE_CLIENT_SECRET',
  'AZURE_TENANT_ID',
];

/** What a deployment to Azure sets: every setting above except the local-only ones. */
export const DEPLOYED_SETTINGS: readonly string[] = Object.values(APP_SETTINGS).filter(
  (name) => !LOCAL_ONLY_SETTINGS.includes(name),
);
