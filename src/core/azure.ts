// The production wiring and the Azure SDK adapters it builds. This is the one barrel whose import
// loads the Azure SDKs (@azure/identity, @azure/keyvault-secrets, @azure/data-tables); the folder
// barrels hold the decisions and the interfaces only, so code and tests that need no Azure client
// do not pay for loading one.
export { createVendDeps } from './vend/create-vend-deps';
export type { CreateVendDepsOptions } from './vend/create-vend-deps';
export { TableAuditSink, auditTableClient } from './audit/table-audit-sink';
export { tableAuditReader } from './audit/table-audit-reader';
export { KeyVaultSecretSource } from './secrets/key-vault-secret-source';
export { createCredentialFactory } from './mint/credential-factory';
export { rehearsalTransports } from './vend/rehearsal-transports';
export { createOnBehalfOfMinter, sanitizeOnBehalfOfError } from './mint/on-behalf-of';
export { TableGrantStore } from './grants/table-grant-store';
export { startTelemetry, ingestionCredential } from './telemetry/start-telemetry';
