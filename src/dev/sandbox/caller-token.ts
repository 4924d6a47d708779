import { SignJWT, UnsecuredJWT } from 'jose';
import type { CryptoKey, KeyObject } from 'jose';
import { newTokenId } from './access-token.js';
import type { SigningKey } from './signing-keys.js';

/** The vending API's application id URI: the default audience of caller tokens. */
export const VENDING_API_AUDIENCE = 'api://dbx-token-vending';
export const DEFAULT_CALLER_ROLES: readonly string[] = ['Vend.AnalyticsSandbox'];

/** Shapes a caller token; every default can be overridden, every claim replaced or dropped. */
export interface CallerTokenOptions {
  /** 'app' (client credentials, default) or 'user' (delegated: `scp`, `upn`, `name`). */
  readonly kind?: 'app' | 'user';
  /** The caller's app id (`appid`/`azp`); defaults to the sandbox's caller app. */
  readonly clientId?: string;
  readonly audience?: string;
  /** `roles`; an empty list drops the claim, as Entra ID does. */
  readonly roles?: readonly string[];
  /** 'v1' → `https://sts.windows.net/{tid}/` with `ver: '1.0'`; 'v2' (default); or any literal issuer. */
  readonly issuer?: 'v1' | 'v2' | (string & {});
  readonly tenantId?: string;
  /** Seconds from now to `exp` (default 3600); negative gives an expired token. */
  readonly expiresInSeconds?: number;
  /** Claims set last, over every default. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Claims removed after `claims` is applied. */
  readonly omit?: readonly string[];
  /** Header `alg` (default RS256); 'none' gives an unsigned token. */
  readonly alg?: string;
  /** A foreign signing key for negative tests; default: the authority's current key. */
  readonly key?: CryptoKey | KeyObject | Uint8Array;
  /** Header `kid`; default the authority's current kid; null drops it. */
  readonly kid?: string | null;
}

export interface CallerTokenContext {
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly signingKey: SigningKey;
  readonly defaultClientId: string;
  objectIdOf(clientId: string): string;
  readonly user: { readonly objectId: string; readonly subject: string; readonly upn: string; readonly name: string };
}

function issuerOf(ctx: CallerTokenContext, opts: CallerTokenOptions, tid: string): string {
  if (opts.issuer === 'v1') return `https://sts.windows.net/${tid}/`;
  if (opts.issuer === undefined || opts.issuer === 'v2') return `${ctx.authorityHost}/${tid}/v2.0`;
  return opts.issuer;
}

function defaultClaims(ctx: CallerTokenContext, opts: CallerTokenOptions): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const tid = opts.tenantId ?? ctx.tenantId;
  const clientId = opts.clientId ?? ctx.defaultClientId;
  const v1 = opts.issuer === 'v1';
  const roles = opts.roles ?? DEFAULT_CALLER_ROLES;
  const claims: Record<string, unknown> = {
    aud: opts.audience ?? VENDING_API_AUDIENCE,
    iss: issuerOf(ctx, opts, tid),
    iat: now,
    nbf: now,
    exp: now + (opts.expiresInSeconds ?? 3600),
    tid,
    appid: clientId,
    ...(v1 ? { appidacr: '1' } : { azp: clientId, azpacr: '1' }),
    uti: newTokenId(),
    ver: v1 ? '1.0' : '2.0',
    ...(roles.length > 0 ? { roles: [...roles] } : {}),
  };
  if (opts.kind === 'user') {
    const { objectId, subject, upn, name } = ctx.user;
    return { ...claims, oid: objectId, sub: subject, idtyp: 'user', scp: 'Vend.Token', upn, name };
  }
  const oid = ctx.objectIdOf(clientId);
  return { ...claims, oid, sub: oid, idtyp: 'app' };
}

/** Signs a caller token in-process, as Entra ID would issue it to a caller of the vending API. */
export async function signCallerToken(ctx: CallerTokenContext, opts: CallerTokenOptions = {}): Promise<string> {
  const claims = { ...defaultClaims(ctx, opts), ...opts.claims };
  for (const name of opts.omit ?? []) delete claims[name];
  const alg = opts.alg ?? 'RS256';
  if (alg === 'none') return new UnsecuredJWT(claims).encode();
  const kid = opts.kid === null ? undefined : (opts.kid ?? ctx.signingKey.kid);
  return new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
    .sign(opts.key ?? ctx.signingKey.privateKey);
}
