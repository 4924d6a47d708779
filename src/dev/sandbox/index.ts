// The sandbox's public entry: re-exports only.
export { startSandbox } from './start-sandbox.js';
export type { Sandbox, SandboxAudit, SandboxOptions } from './types.js';
export type { SandboxApp, SandboxApps, SandboxServicePrincipal, VendingConfigDocument } from './config.js';
export type { CallerTokenOptions } from './caller-token.js';
export { DEFAULT_CALLER_ROLES, VENDING_API_AUDIENCE } from './caller-token.js';
export { SANDBOX_AUDITOR_ROLE } from './config.js';
export type { ClientRegistration } from './clients.js';
export { TOKEN_EXCHANGE_AUDIENCE } from './client-assertion.js';
export { LocalAuthority } from './authority.js';
export { CredentialLedger } from './credential-ledger.js';
export type { TokenRequestFilter } from './authority.js';
export { LOCAL_VAULT_RESOURCE, LocalVault, VAULT_RESOURCE } from './vault.js';
export {
  AZURE_DATABRICKS_APP_ID, LocalWorkspace, MANAGEMENT_RESOURCE, MANAGEMENT_TOKEN_HEADER, WORKSPACE_RESOURCE_ID_HEADER,
} from './workspace.js';
export type { PatInfo } from './pat-store.js';
export { AUDIT_TABLE_NAME, GRANTS_TABLE_NAME } from './audit-store.js';
export { FaultInjector } from './faults.js';
export type { Fault } from './faults.js';
export { ADMIN_ROLE } from './config.js';
export type { SandboxPrincipals } from './config.js';
export { resolveLocalhostNames } from './localhost-names.js';
