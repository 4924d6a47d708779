import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKey } from './signing-keys.js';

/** What the authority knows when it mints an app-only access token. */
export interface AccessTokenInput {
  readonly tenantId: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly objectId: string;
  readonly audience: string;
  readonly roles: readonly string[];
  readonly displayName?: string;
  /** Entra ID's `azpacr`: '1' client secret, '2' certificate or federated assertion. */
  readonly authMethod: '1' | '2';
  readonly lifetimeSeconds: number;
  readonly key: SigningKey;
}

export interface MintedAccessToken {
  readonly token: string;
  readonly expiresIn: number;
}

/** A unique token identifier, like Entra ID's `uti`: the audit records it instead of the token. */
export function newTokenId(): string {
  return randomBytes(16).toString('base64url');
}

export async function mintAccessToken(input: AccessTokenInput): Promise<MintedAccessToken> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    aud: input.audience,
    iss: input.issuer,
    iat: now,
    nbf: now,
    exp: now + input.lifetimeSeconds,
    tid: input.tenantId,
    oid: input.objectId,
    sub: input.objectId,
    appid: input.clientId,
    azp: input.clientId,
    azpacr: input.authMethod,
    idtyp: 'app',
    uti: newTokenId(),
    ver: '2.0',
  };
  if (input.roles.length > 0) claims.roles = [...input.roles];
  if (input.displayName) claims.app_displayname = input.displayName;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: input.key.kid })
    .sign(input.key.privateKey);
  return { token, expiresIn: input.lifetimeSeconds };
}
