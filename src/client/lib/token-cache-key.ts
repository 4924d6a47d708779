import { createHash } from 'node:crypto';
import type { TokenMode } from '../types';

export interface CacheKeyParts {
  readonly workspace: string;
  readonly mode: Exclude<TokenMode, 'pat'>;
  readonly managementToken: boolean;
  /** Already normalized (sorted, de-duplicated); empty when the request names none. */
  readonly scopes: readonly string[];
}

/**
 * The client cache key of a vended token. A token is served again only for the same caller,
 * workspace, mode, management-token flag and scope set: never a `clusters:read` token for a
 * `sql` request, never one user's `user` (on-behalf-of) token for another, even when one
 * client's `getCallerToken` hands out tokens of several callers. Caller tokens never appear in
 * a key as they are: only their identity claims, or a hash.
 */
export function tokenCacheKey(callerToken: string, parts: CacheKeyParts): string {
  return [callerIdOf(callerToken), parts.workspace, parts.mode, parts.managementToken ? 'management' : '', parts.scopes.join(' ')].join('\u0000');
}

/**
 * Who the caller token speaks for: tenant, object id and client app of an Entra ID JWT (read,
 * not verified: it is our own credential's token and the service verifies it). A token without
 * those claims is identified by its SHA-256, so two different tokens never share a key.
 */
export function callerIdOf(callerToken: string): string {
  const claims = jwtClaims(callerToken);
  const tid = claims?.tid;
  const oid = claims?.oid ?? claims?.sub;
  const app = claims?.azp ?? claims?.appid ?? '';
  if (typeof tid === 'string' && typeof oid === 'string' && typeof app === 'string' && tid && oid) return `jwt:${tid}/${oid}/${app}`;
  return `sha256:${createHash('sha256').update(callerToken).digest('base64url')}`;
}

function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
