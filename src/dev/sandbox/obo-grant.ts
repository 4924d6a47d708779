import { SignJWT, jwtVerify } from 'jose';
import { aadError } from './aad-error.js';
import type { AadErrorSpec } from './aad-error.js';
import { newTokenId } from './access-token.js';
import type { RegisteredClient } from './clients.js';
import { json } from './service.js';
import type { ServiceRequest, ServiceResponse } from './service.js';
import type { TokenEndpointContext } from './token-endpoint.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const OBO_ERRORS = {
  notUserToken: (): AadErrorSpec => ({
    status: 400, error: 'invalid_grant', code: 50013,
    description: 'Assertion failed signature validation or is not a delegated (user) token issued to this application.',
  }),
  wrongAudience: (): AadErrorSpec => ({
    status: 400, error: 'invalid_grant', code: 50013,
    description: 'Assertion audience does not match the client application (on-behalf-of needs a token issued to this app).',
  }),
};

/**
 * `POST /{tenant}/oauth2/v2.0/token` with the on-behalf-of grant: the client (a middle-tier API,
 * authenticated by secret or assertion) presents a user's token issued *to it* and receives that
 * user's token for a downstream resource. No refresh token is returned.
 */
export async function handleOnBehalfOf(
  ctx: TokenEndpointContext,
  req: ServiceRequest,
  client: RegisteredClient,
  authMethod: '1' | '2',
  resource: string,
): Promise<ServiceResponse> {
  const form = new URLSearchParams(req.body.toString('utf8'));
  const user = await jwtVerify(form.get('assertion') ?? '', ctx.keySet, {
    algorithms: ['RS256'], issuer: [ctx.issuer, `https://sts.windows.net/${ctx.tenantId}/`], requiredClaims: ['exp', 'oid', 'tid'],
  }).catch(() => undefined);
  if (!user || user.payload.idtyp !== 'user' || user.payload.tid !== ctx.tenantId) return aadError(OBO_ERRORS.notUserToken(), req.headers);
  const audiences = [client.clientId, ...client.identifierUris];
  const aud = user.payload.aud;
  if (!(Array.isArray(aud) ? aud : [aud]).some((a) => typeof a === 'string' && audiences.includes(a))) return aadError(OBO_ERRORS.wrongAudience(), req.headers);
  const now = Math.floor(Date.now() / 1000);
  const lifetime = Math.min(ctx.lifetimeSeconds, (user.payload.exp as number) - now + 300);
  const p = user.payload;
  const token = await new SignJWT({
    aud: resource, iss: ctx.issuer, iat: now, nbf: now, exp: now + lifetime, tid: ctx.tenantId,
    oid: p.oid, sub: p.sub, upn: p.upn, name: p.name, scp: 'user_impersonation', idtyp: 'user',
    appid: client.clientId, azp: client.clientId, azpacr: authMethod, uti: newTokenId(), ver: '2.0',
  }).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: ctx.signingKey.kid }).sign(ctx.signingKey.privateKey);
  return json(200, { token_type: 'Bearer', scope: `${resource}/user_impersonation`, expires_in: lifetime, ext_expires_in: lifetime, access_token: token }, { pragma: 'no-cache' });
}

