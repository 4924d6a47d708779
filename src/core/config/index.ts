export { loadConfig } from './load-config';
export type { VendingConfig, Workspace, ServicePrincipal, SpCredential } from './load-config';
export type { Env } from './read-document';
export type { ServiceSettings, AuditTarget } from './service-settings';
export type { GrantDocument } from './schema';
export { ConfigError } from './config-error';
export { CLOUDS, DATABRICKS_RESOURCE_ID, isMicrosoftAuthority } from './clouds';
export type { CloudName } from './clouds';
export { APP_SETTINGS, DEPLOYED_SETTINGS, LOCAL_ONLY_SETTINGS } from './settings';
