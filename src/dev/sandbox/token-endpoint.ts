import type { JWTVerifyGetKey } from 'jose';
import { AAD_ERRORS, aadError } from './aad-error.js';
import type { AadErrorSpec } from './aad-error.js';
import { mintAccessToken } from './access-token.js';
import { checkClientAssertion } from './client-assertion.js';
import { rolesFor, secretMatches } from './clients.js';
import type { RegisteredClient } from './clients.js';
import { JWT_BEARER_GRANT, handleOnBehalfOf } from './obo-grant.js';
import { json } from './service.js';
import type { ServiceRequest, ServiceResponse } from './service.js';
import type { SigningKey } from './signing-keys.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const DEFAULT_SUFFIX = '/.default';
// MSAL may add these to any request; they never name a resource.
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

export interface TokenEndpointContext {
  readonly tenantId: string;
  readonly tokenEndpoint: string;
  readonly issuer: string;
  readonly lifetimeSeconds: number;
  readonly signingKey: SigningKey;
  readonly keySet: JWTVerifyGetKey;
  client(clientId: string): RegisteredClient | undefined;
}

/**
 * `scope` must be exactly one `<resource>/.default`; the resource is the scope minus that suffix,
 * which turns `https://management.core.windows.net//.default` into `https://management.core.windows.net/`.
 */
export function resourceOfScope(scope: string): string | undefined {
  const scopes = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s));
  if (scopes.length !== 1 || !scopes[0].endsWith(DEFAULT_SUFFIX)) return undefined;
  const resource = scopes[0].slice(0, -DEFAULT_SUFFIX.length);
  return resource ? resource : undefined;
}

/** Returns the error for a client that fails to authenticate, or the `azpacr` value when it succeeds. */
async function authenticateClient(
  form: URLSearchParams,
  client: RegisteredClient,
  ctx: TokenEndpointContext,
): Promise<AadErrorSpec | '1' | '2'> {
  const secret = form.get('client_secret');
  if (secret !== null) return secretMatches(client, secret) ? '1' : AAD_ERRORS.invalidSecret(client.clientId);
  const assertion = form.get('client_assertion');
  if (assertion === null || form.get('client_assertion_type') !== JWT_BEARER) return AAD_ERRORS.missingCredential();
  const failure = await checkClientAssertion(assertion, client, ctx);
  return failure === undefined ? '2' : AAD_ERRORS.invalidAssertion(failure);
}

/** `POST /{tenant}/oauth2/v2.0/token` for the client-credentials and on-behalf-of grants. */
export async function handleTokenRequest(ctx: TokenEndpointContext, req: ServiceRequest): Promise<ServiceResponse> {
  const form = new URLSearchParams(req.body.toString('utf8'));
  const onBehalfOf = form.get('grant_type') === JWT_BEARER_GRANT && form.get('requested_token_use') === 'on_behalf_of';
  if (form.get('grant_type') !== 'client_credentials' && !onBehalfOf) return aadError(AAD_ERRORS.unsupportedGrant(), req.headers);
  const clientId = form.get('client_id') ?? '';
  const client = ctx.client(clientId);
  if (!client) return aadError(AAD_ERRORS.unknownClient(clientId, ctx.tenantId), req.headers);
  const authMethod = await authenticateClient(form, client, ctx);
  if (typeof authMethod === 'object') return aadError(authMethod, req.headers);
  const resource = resourceOfScope(form.get('scope') ?? '');
  if (!resource) return aadError(AAD_ERRORS.invalidScope(), req.headers);
  if (onBehalfOf) return handleOnBehalfOf(ctx, req, client, authMethod, resource);
  const minted = await mintAccessToken({
    tenantId: ctx.tenantId,
    issuer: ctx.issuer,
    clientId,
    objectId: client.objectId,
    audience: resource,
    roles: rolesFor(client, resource),
    displayName: client.displayName,
    authMethod,
    lifetimeSeconds: ctx.lifetimeSeconds,
    key: ctx.signingKey,
  });
  return json(200, {
    token_type: 'Bearer',
    expires_in: minted.expiresIn,
    ext_expires_in: minted.expiresIn,
    access_token: minted.token,
  }, { pragma: 'no-cache' });
}
