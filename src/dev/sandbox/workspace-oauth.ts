import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { json } from './service.js';
import type { ServiceRequest, ServiceResponse } from './service.js';
import { SigningKeyRing } from './signing-keys.js';

/** A service principal federation policy, as Databricks keeps it: whose tokens may act as the SP. */
export interface FederationPolicy {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly subject: string;
}

/** What a workspace-issued OAuth token says when it verifies. */
export interface WorkspaceTokenClaims {
  /** The service principal's application id. */
  readonly principal: string;
  readonly scopes: readonly string[];
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const MAX_LIFETIME_S = 3600;
const SCOPE = /^[a-z][a-z0-9-]{0,63}(:(read|restricted-query))*$/;

const oauthError = (status: number, error: string, description: string): ServiceResponse =>
  json(status, { error, error_description: description });

/**
 * The workspace's own OAuth side (token federation, RFC 8693): `/oidc/v1/token` exchanges a
 * token from a trusted issuer for a workspace token when a federation policy of the SP named by
 * `client_id` matches its issuer, audience and subject. The workspace signs its tokens with its
 * own keys and issuer, so no other workspace accepts them.
 */
export class WorkspaceOAuth {
  private readonly policies = new Map<string, FederationPolicy[]>();

  private constructor(readonly issuer: string, private readonly keys: SigningKeyRing) {}

  static async create(issuer: string): Promise<WorkspaceOAuth> {
    return new WorkspaceOAuth(issuer, await SigningKeyRing.create());
  }

  setFederationPolicy(clientId: string, policy: FederationPolicy): void {
    this.policies.set(clientId, [...(this.policies.get(clientId) ?? []), policy]);
  }

  clearFederationPolicies(clientId: string): void {
    this.policies.delete(clientId);
  }

  /** Whether the token looks like one of ours (its issuer); it still has to verify. */
  isOwnToken(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.issuer;
    } catch {
      return false;
    }
  }

  async verify(token: string): Promise<WorkspaceTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.keys.localKeySet(), { algorithms: ['RS256'], issuer: this.issuer, audience: this.issuer, requiredClaims: ['exp', 'sub', 'scope'] });
      return { principal: String(payload.sub), scopes: String(payload.scope).split(' ').filter(Boolean) };
    } catch {
      return undefined;
    }
  }

  async exchange(req: ServiceRequest, idp: { keySet: JWTVerifyGetKey }, isMember: (appId: string) => boolean): Promise<ServiceResponse> {
    const form = new URLSearchParams(req.body.toString('utf8'));
    if (form.get('grant_type') !== TOKEN_EXCHANGE) return oauthError(400, 'unsupported_grant_type', 'Only token exchange is supported here.');
    if (form.get('subject_token_type') !== JWT_TOKEN_TYPE) return oauthError(400, 'invalid_request', 'subject_token_type must be a JWT.');
    const clientId = form.get('client_id') ?? '';
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !SCOPE.test(s) && s !== 'all-apis')) return oauthError(400, 'invalid_scope', 'The requested scope is invalid.');
    const policies = this.policies.get(clientId) ?? [];
    if (policies.length === 0) return oauthError(401, 'invalid_client', 'No federation policy is configured for this client.');
    const subject = await this.matchPolicy(form.get('subject_token') ?? '', policies, idp.keySet);
    if (!subject) return oauthError(400, 'invalid_grant', 'The subject token does not match any federation policy of this client.');
    if (!isMember(clientId)) return oauthError(400, 'invalid_grant', 'The service principal is not a member of this workspace.');
    // One reading of the clock for the lifetime and the token's iat/exp, so exp = iat + expires_in.
    const now = Math.floor(Date.now() / 1000);
    const lifetime = Math.max(1, Math.min(MAX_LIFETIME_S, subject.exp - now));
    const token = await this.mint(clientId, scopes, now, lifetime);
    return json(200, { access_token: token, token_type: 'Bearer', expires_in: lifetime, scope: scopes.join(' ') }, { pragma: 'no-cache' });
  }

  private async matchPolicy(token: string, policies: readonly FederationPolicy[], keySet: JWTVerifyGetKey): Promise<{ exp: number } | undefined> {
    for (const policy of policies) {
      const verified = await jwtVerify(token, keySet, { algorithms: ['RS256', 'ES256'], issuer: policy.issuer, audience: [...policy.audiences], subject: policy.subject, requiredClaims: ['exp'] }).catch(() => undefined);
      if (verified) return { exp: verified.payload.exp as number };
    }
    return undefined;
  }

  private mint(principal: string, scopes: readonly string[], now: number, lifetime: number): Promise<string> {
    return new SignJWT({ scope: scopes.join(' '), client_id: principal })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: this.keys.current.kid })
      .setIssuer(this.issuer).setAudience(this.issuer).setSubject(principal)
      .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + lifetime)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.keys.current.privateKey);
  }
}
