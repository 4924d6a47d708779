import type { IncomingHttpHeaders } from 'node:http';
import { jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { LocalAuthority } from './authority.js';

// Larger tokens are refused unread, like the product's own caller check.
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The bearer token of an `Authorization` header, or undefined when there is none. */
export function bearerOf(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/** An authority-issued token's claims, with the caller's app id guaranteed present. */
export interface VerifiedClaims extends JWTPayload {
  readonly appid: string;
  readonly tid: string;
}

/**
 * Verifies a token as an Azure resource would: RS256 by one of the authority's published keys, its
 * issuer (v1 or v2), one of `audiences`, not expired, and the sandbox tenant. Undefined when it fails.
 */
export async function verifyAuthorityToken(
  authority: LocalAuthority,
  token: string,
  audiences: readonly string[],
): Promise<VerifiedClaims | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const { payload } = await jwtVerify(token, authority.keySet(), {
      algorithms: ['RS256'],
      issuer: [authority.issuer, authority.issuerV1],
      audience: [...audiences],
      requiredClaims: ['exp', 'tid', 'appid'],
    });
    if (payload.tid !== authority.tenantId || typeof payload.appid !== 'string') return undefined;
    return payload as VerifiedClaims;
  } catch {
    return undefined;
  }
}
