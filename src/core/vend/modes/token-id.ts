import { decodeJwt } from 'jose';
import type { JWTPayload } from 'jose';

/** A JWT's `uti` (Entra ID's unique token id) or `jti`: an identifier, never the token. */
export function tokenIdOf(token: string): string | undefined {
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    return undefined;
  }
  const id = claims.uti ?? claims.jti;
  return typeof id === 'string' ? id : undefined;
}

const mintedIds = new WeakMap<object, string | undefined>();

/**
 * `tokenIdOf` for a token object a minter caches and hands out again for each vend: decoded once
 * per object, not once per vend (a warm vend is one cache hit).
 */
export function mintedTokenId(minted: { readonly token: string }): string | undefined {
  if (mintedIds.has(minted)) return mintedIds.get(minted);
  const id = tokenIdOf(minted.token);
  mintedIds.set(minted, id);
  return id;
}
