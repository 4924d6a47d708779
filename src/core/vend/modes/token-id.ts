import { decodeJwt } from 'jose';

/** A JWT's `uti` (Entra ID's unique token id) or `jti`: an identifier, never the token. */
export function tokenIdOf(token: string): string | undefined {
  try {
    const claims = decodeJwt(token);
    const id = claims.uti ?? claims.jti;
    return typeof id === 'string' ? id : undefined;
    // Stryker disable next-line BlockStatement: an emptied catch falls through to the same undefined
  } catch {
    return undefined;
  }
}
