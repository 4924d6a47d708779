export { EntraTokenMinter } from './entra-token-minter';
export type { MintedToken, TokenMinter, EntraTokenMinterOptions } from './entra-token-minter';
export { createCredentialFactory } from './credential-factory';
export type { CredentialFactory, CredentialContext } from './credential-factory';
export { sanitizeEntraError, entraErrorCode } from './sanitize-entra-error';
export { createPat, revokePat, patComment } from './databricks-pats';
export type { CreatedPat } from './databricks-pats';
