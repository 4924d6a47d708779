export type { KeyVaultSecretSourceOptions } from './key-vault-secret-source';
export type { SecretSource, SecretValue } from './secret-source';
export { sanitizeVaultError } from './sanitize-vault-error';
export { FixedAuditKey, VaultAuditKey } from './audit-key-source';
export type { AuditKeySource, VaultAuditKeyOptions } from './audit-key-source';
