import { errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { InvalidTokenError, isVendingError } from '../errors';
import type { VendingConfig } from '../config';
import type { CallerIdentity, Clock } from '../policy';
import type { SigningKeyStore } from './signing-key-store';
import type { VerifiedTokenCache } from './verified-token-cache';

/** Bigger tokens are refused before any parsing (DESIGN §3). */
export const MAX_TOKEN_BYTES = 16_384; // 16 KiB

export interface CallerPolicy {
  readonly audiences: readonly string[];
  readonly allowedTenants: readonly string[];
  readonly v1IssuerBase: string;
  readonly v2IssuerHost: string;
}

export interface VerifyCallerDeps {
  readonly keys: SigningKeyStore;
  readonly policy: CallerPolicy;
  readonly clock: Clock;
  /** Tokens that passed every check, until their `exp` (see VerifiedTokenCache). */
  readonly verified?: VerifiedTokenCache;
  /** Told whether the verified-token cache answered (telemetry's cache hit ratio). */
  readonly onCache?: (hit: boolean) => void;
}

/** The configuration's caller rules: the service's own verifier and the start-up rehearsal's read the same. */
export function callerPolicyOf(config: Pick<VendingConfig, 'audiences' | 'allowedTenants' | 'v1IssuerBase' | 'v2IssuerHost'>): CallerPolicy {
  return { audiences: config.audiences, allowedTenants: config.allowedTenants, v1IssuerBase: config.v1IssuerBase, v2IssuerHost: config.v2IssuerHost };
}

/** The accepted issuers, v1 and v2, for each allowed tenant. */
export function issuersFor(policy: CallerPolicy, tenantId: string): [string, string] {
  return [`${policy.v1IssuerBase}${tenantId}/`, `${policy.v2IssuerHost}/${tenantId}/v2.0`];
}

/** Turns an Authorization header into a verified caller, or throws InvalidTokenError (401). */
export async function verifyCaller(authorization: string | null | undefined, deps: VerifyCallerDeps): Promise<CallerIdentity> {
  const token = bearerToken(authorization);
  const { policy, keys, verified } = deps;
  const now = deps.clock.now();
  const current = keys.generationAt(now);
  const known = current === undefined ? undefined : verified?.get(token, now, current);
  if (current !== undefined) deps.onCache?.(known !== undefined);
  if (known) return known;
  try {
    const { payload, key } = await jwtVerify(token, keys.resolve, {
      algorithms: ['RS256'],
      audience: [...policy.audiences],
      issuer: policy.allowedTenants.flatMap((tid) => issuersFor(policy, tid)),
      requiredClaims: ['exp', 'iat', 'tid', 'oid'],
      clockTolerance: 60,
      currentDate: new Date(now),
    });
    const identity = toIdentity(payload, policy);
    // Remembered under the generation of the key set that checked it, so a refresh retires it.
    const generation = keys.generationOf(key);
    if (verified && generation !== undefined) verified.set(token, identity, (payload.exp as number) * 1000, now, generation); // exp is a required claim
    return identity;
  } catch (err) {
    if (isVendingError(err)) throw err;
    throw new InvalidTokenError(describeJoseError(err));
  }
}

function bearerToken(authorization: string | null | undefined): string {
  if (!authorization) throw new InvalidTokenError('A bearer token is required.');
  if (authorization.length > MAX_TOKEN_BYTES + 7) throw new InvalidTokenError('The bearer token is too large.');
  const match = /^Bearer +([A-Za-z0-9\-_.]+)$/i.exec(authorization.trim());
  if (!match?.[1]) throw new InvalidTokenError('The Authorization header must be "Bearer <token>".');
  return match[1];
}

function toIdentity(payload: JWTPayload, policy: CallerPolicy): CallerIdentity {
  const tid = stringClaim(payload, 'tid').toLowerCase();
  // jose checked the issuer against the allowed list (so it is present); it must also be the issuer of *this* tenant.
  if (!issuersFor(policy, tid).includes(payload.iss as string)) throw new InvalidTokenError('The token issuer does not match its tenant.');
  const appId = optionalString(payload, 'appid') ?? optionalString(payload, 'azp');
  if (!appId) throw new InvalidTokenError('The token names no calling application (appid/azp).');
  const scp = optionalString(payload, 'scp');
  const upn = optionalString(payload, 'upn') ?? optionalString(payload, 'preferred_username') ?? optionalString(payload, 'unique_name');
  const isApp = payload.idtyp === 'app' || (payload.idtyp === undefined && scp === undefined && upn === undefined);
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  // Entra ID puts at most 200 group ids in a token (more: an overage pointer, which is not followed).
  const groups = Array.isArray(payload.groups) ? payload.groups.filter((g): g is string => typeof g === 'string' && g.length <= 64).slice(0, 500).map((g) => g.toLowerCase()) : [];
  return {
    tenantId: tid,
    objectId: stringClaim(payload, 'oid').toLowerCase(),
    appId: appId.toLowerCase(),
    roles,
    ...(groups.length > 0 ? { groups } : {}),
    kind: isApp ? 'app' : 'user',
    name: isApp ? optionalString(payload, 'app_displayname') : upn,
  };
}

function stringClaim(payload: JWTPayload, name: string): string {
  const value = optionalString(payload, name);
  if (!value) throw new InvalidTokenError(`The token claim "${name}" is missing or not a string.`);
  return value;
}

function optionalString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : undefined;
}

/** Says what was wrong with the token without echoing any of it. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The token claim "${err.claim}" is not acceptable (${err.reason}).`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'The token algorithm is not allowed (RS256 only).';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'The token was not signed by a known key of the tenant.';
  return 'The token is malformed.';
}
