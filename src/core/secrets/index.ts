export { KeyVaultSecretSource } from './key-vault-secret-source';
export type { KeyVaultSecretSourceOptions } from './key-vault-secret-source';
export type { SecretSource, SecretValue } from './secret-source';
export { sanitizeVaultError } from './sanitize-vault-error';
