import { timingSafeEqual } from 'node:crypto';
import { mintAccessToken } from './access-token.js';
import { TOKEN_EXCHANGE_AUDIENCE } from './client-assertion.js';
import { rolesFor } from './clients.js';
import type { RegisteredClient } from './clients.js';
import { json } from './service.js';
import type { ServiceRequest, ServiceResponse } from './service.js';
import type { SigningKey } from './signing-keys.js';

/** The path the authority serves the App Service managed identity endpoint on. */
export const MANAGED_IDENTITY_PATH = '/msi/token';
/** The only protocol version App Service's identity endpoint speaks for `IDENTITY_ENDPOINT` callers. */
export const APP_SERVICE_MSI_API_VERSION = '2019-08-01';

export interface ManagedIdentityContext {
  readonly tenantId: string;
  /** Managed identity tokens are v1 tokens (`https://sts.windows.net/<tid>/`), as in Azure. */
  readonly issuerV1: string;
  /**
   * Except for `api://AzureADTokenExchange`: a federated credential trusting a managed identity
   * names the v2 issuer (`<authority>/<tid>/v2.0`; Entra ID's "trust a managed identity" setup and
   * the Graph federatedIdentityCredential examples), so that token carries it.
   */
  readonly issuerV2: string;
  readonly identityHeader: string;
  readonly lifetimeSeconds: number;
  readonly signingKey: SigningKey;
  client(clientId: string): RegisteredClient | undefined;
}

function sameSecret(presented: string | string[] | undefined, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=…&client_id=…` with the
 * `X-IDENTITY-HEADER` secret: the App Service / Functions managed identity protocol. The
 * identity is a registered client of the authority (the function app's user-assigned identity).
 */
export async function handleManagedIdentityRequest(ctx: ManagedIdentityContext, req: ServiceRequest): Promise<ServiceResponse> {
  if (!sameSecret(req.headers['x-identity-header'], ctx.identityHeader)) {
    return json(401, { statusCode: 401, message: 'X-IDENTITY-HEADER is missing or wrong.' });
  }
  if (req.query.get('api-version') !== APP_SERVICE_MSI_API_VERSION) return json(400, { statusCode: 400, message: 'Unsupported api-version.' });
  const resource = req.query.get('resource');
  const clientId = req.query.get('client_id') ?? '';
  const client = ctx.client(clientId);
  if (!resource || !client) return json(400, { statusCode: 400, message: 'A resource and the client_id of an assigned identity are required.' });
  const minted = await mintAccessToken({
    tenantId: ctx.tenantId, issuer: resource === TOKEN_EXCHANGE_AUDIENCE ? ctx.issuerV2 : ctx.issuerV1, clientId, objectId: client.objectId, audience: resource,
    roles: rolesFor(client, resource), displayName: client.displayName, authMethod: '2',
    lifetimeSeconds: ctx.lifetimeSeconds, key: ctx.signingKey,
  });
  return json(200, {
    access_token: minted.token,
    expires_on: String(Math.floor(Date.now() / 1000) + minted.expiresIn),
    resource,
    token_type: 'Bearer',
    client_id: clientId,
  });
}
