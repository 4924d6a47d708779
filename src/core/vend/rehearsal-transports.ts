import { TableClient } from '@azure/data-tables';
import type { ClientSecretCredentialOptions, TokenCredential } from '@azure/identity';
import { TableBatchWriter } from '../audit/table-batch-writer';
import type { VendingConfig } from '../config';
import { AuthorityMetadataCache } from '../mint/authority-metadata-cache';
import { createCredentialFactory } from '../mint/credential-factory';
import type { Clock } from '../policy';
import type { RehearsalTransports } from './rehearsal';

type HttpClient = NonNullable<ClientSecretCredentialOptions['httpClient']>;
type PipelineRequest = Parameters<HttpClient['sendRequest']>[0];
type PipelineResponse = Awaited<ReturnType<HttpClient['sendRequest']>>;

/**
 * The rehearsal's Azure SDK clients, real but for their transport: an SP credential from the
 * service's own credential factory (MSAL's client-credentials flow: authority discovery, the token
 * request, its response and cache) and an audit table client whose batch transaction is built,
 * signed and parsed as the service's own. Their HTTP client answers in process, as Entra ID and
 * Table storage would; `requests` lists what they asked (method and path), for tests. The
 * authority metadata they learn stays theirs: the service's cache is not shared.
 */
export function rehearsalTransports(config: VendingConfig, clock: Clock): RehearsalTransports & { readonly requests: readonly string[] } {
  const requests: string[] = [];
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      const url = new URL(request.url);
      requests.push(`${request.method} ${url.pathname}`);
      return Promise.resolve(answer(request, url, config));
    },
  };
  const appCredential: TokenCredential = { getToken: () => Promise.resolve({ token: 'rehearsal', expiresOnTimestamp: clock.now() + 3_600_000 }) };
  const createCredential = createCredentialFactory({
    tenantId: config.tenantId,
    authorityHost: config.authorityHost,
    appCredential,
    authorityMetadata: new AuthorityMetadataCache(clock),
    httpClient,
  });
  const table = new TableClient('https://rehearsal.table.core.windows.net', 'rehearsal', appCredential, { httpClient, retryOptions: { maxRetries: 0 } });
  return { createCredential, batchWriter: new TableBatchWriter(table), requests };
}

function answer(request: PipelineRequest, url: URL, config: VendingConfig): PipelineResponse {
  const path = url.pathname;
  if (path.endsWith('/.well-known/openid-configuration')) {
    const base = `${config.authorityHost}/${config.tenantId}`;
    return json(request, 200, {
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
    });
  }
  if (path.endsWith('/discovery/instance')) return json(request, 200, { tenant_discovery_endpoint: `${config.authorityHost}/${config.tenantId}/v2.0/.well-known/openid-configuration`, metadata: [] });
  if (path.endsWith('/oauth2/v2.0/token')) {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const segment = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    return json(request, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: `${segment({ alg: 'none', typ: 'JWT' })}.${segment({ aud: config.databricksScope, exp })}.` });
  }
  if (request.method === 'POST' && path === '/Tables') return respond(request, 204, {}, '');
  if (request.method === 'POST' && path === '/$batch') return batchAnswer(request);
  return json(request, 404, { error: 'not_found' });
}

/** 202 with one `204 No Content` per operation of the changeset: every row written. */
function batchAnswer(request: PipelineRequest): PipelineResponse {
  const body = typeof request.body === 'string' ? request.body : '';
  const operations = body.split('Content-Type: application/http').length - 1;
  const part = '--changesetresponse_rehearsal\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 204 No Content\r\nDataServiceVersion: 3.0;\r\n\r\n';
  const text =
    '--batchresponse_rehearsal\r\nContent-Type: multipart/mixed; boundary=changesetresponse_rehearsal\r\n\r\n' +
    part.repeat(operations) +
    '--changesetresponse_rehearsal--\r\n--batchresponse_rehearsal--\r\n';
  return respond(request, 202, { 'content-type': 'multipart/mixed; boundary=batchresponse_rehearsal' }, text);
}

function json(request: PipelineRequest, status: number, body: unknown): PipelineResponse {
  return respond(request, status, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(body));
}

function respond(request: PipelineRequest, status: number, headers: Record<string, string>, bodyAsText: string): PipelineResponse {
  return { request, status, headers: new StandInHeaders(headers), bodyAsText };
}

/** The SDK's header collection, for an answer that never crossed the network. Names are case-insensitive. */
class StandInHeaders {
  readonly #values = new Map<string, string>();

  constructor(init: Record<string, string>) {
    for (const [name, value] of Object.entries(init)) this.set(name, value);
  }

  get(name: string): string | undefined {
    return this.#values.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  set(name: string, value: string | number | boolean): void {
    this.#values.set(name.toLowerCase(), String(value));
  }

  delete(name: string): void {
    this.#values.delete(name.toLowerCase());
  }

  toJSON(): Record<string, string> {
    return Object.fromEntries(this.#values);
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return this.#values.entries();
  }
}
