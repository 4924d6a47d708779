export { verifyCaller, issuersFor, callerPolicyOf, MAX_TOKEN_BYTES } from './verify-caller';
export type { CallerPolicy, VerifyCallerDeps } from './verify-caller';
export { SigningKeyStore } from './signing-key-store';
export type { SigningKeyStoreOptions } from './signing-key-store';
export { VerifiedTokenCache } from './verified-token-cache';
