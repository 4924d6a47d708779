import { TableClient } from '@azure/data-tables';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { UnsecuredJWT } from 'jose';
import { TableBatchWriter } from '../audit/table-batch-writer';
import type { VendingConfig } from '../config';
import { AuthorityMetadataCache } from '../mint/authority-metadata-cache';
import { createCredentialFactory } from '../mint/credential-factory';
import type { Clock } from '../policy';
import type { RehearsalTransports } from './rehearsal';

/**
 * The rehearsal's Azure SDK clients, real but for their transport: an SP credential from the
 * service's own credential factory (MSAL's client-credentials flow: authority discovery where
 * MSAL does not carry the metadata, the token request, its response and cache) and an audit table
 * client whose batch transaction is built and parsed as the service's own. Their HTTP client
 * answers in process, as Entra ID and Table storage would; `requests` lists what they asked
 * (method and path), and `httpClient` is that transport, for tests. The authority metadata they learn stays theirs: the service's
 * cache is not shared, and neither is its app identity.
 */
export function rehearsalTransports(config: VendingConfig, clock: Clock): RehearsalTransports & { readonly requests: readonly string[]; readonly httpClient: HttpClient } {
  const requests: string[] = [];
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      const { pathname } = new URL(request.url);
      requests.push(`${request.method} ${pathname}`);
      return Promise.resolve(answer(request, pathname, config, clock));
    },
  };
  const createCredential = createCredentialFactory({
    tenantId: config.tenantId,
    authorityHost: config.authorityHost,
    appCredential: { getToken: () => Promise.reject(new Error('the rehearsal has no app identity')) },
    authorityMetadata: new AuthorityMetadataCache(clock),
    httpClient,
  });
  // No credential: the client signs nothing, and the address is one that can never resolve (RFC 2606).
  // Stryker disable next-line StringLiteral: the table's name is only written inside the batch body, which the transport does not read
  const table = new TableClient('https://rehearsal.invalid', 'rehearsal', { httpClient });
  return { createCredential, batchWriter: new TableBatchWriter(table, { httpClient }), requests, httpClient };
}

function answer(request: PipelineRequest, path: string, config: VendingConfig, clock: Clock): PipelineResponse {
  const { method } = request;
  if (method === 'GET' && path.endsWith('/.well-known/openid-configuration')) {
    const base = `${config.authorityHost}/${config.tenantId}`;
    return respond(request, 200, {
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
    });
  }
  if (method === 'POST' && path.endsWith('/oauth2/v2.0/token')) {
    const expiresIn = 3600;
    const accessToken = new UnsecuredJWT({ aud: config.databricksScope }).setExpirationTime(Math.floor(clock.now() / 1000) + expiresIn).encode();
    return respond(request, 200, { token_type: 'Bearer', expires_in: expiresIn, access_token: accessToken });
  }
  if (method === 'POST' && path === '/Tables') return respond(request, 204, undefined);
  // Table storage's answer to a transaction that wrote its rows: one `204 No Content` in a changeset.
  if (method === 'POST' && path === '/$batch') {
    return respond(
      request,
      202,
      '--batchresponse_r\r\nContent-Type: multipart/mixed; boundary=changesetresponse_r\r\n\r\n' +
        '--changesetresponse_r\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n' +
        '--changesetresponse_r--\r\n--batchresponse_r--\r\n',
      'multipart/mixed; boundary=batchresponse_r',
    );
  }
  return respond(request, 404, undefined);
}

/** `contentType` only where a client reads it: the SDK parses a batch's answer as multipart only when it says so. */
function respond(request: PipelineRequest, status: number, body: string | object | undefined, contentType?: string): PipelineResponse {
  const bodyAsText = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  return { request, status, headers: createHttpHeaders(contentType ? { 'content-type': contentType } : {}), bodyAsText };
}
