import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { json } from './service.js';
import type { ServiceResponse } from './service.js';

/** The shape of an Entra ID (AADSTS) error answer. The description never quotes a secret or a token. */
export interface AadErrorSpec {
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly description: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** MSAL sends `client-request-id`; Entra ID echoes it as the correlation id. */
function correlationIdOf(headers: IncomingHttpHeaders): string {
  const sent = headers['client-request-id'];
  return typeof sent === 'string' && GUID.test(sent) ? sent : randomUUID();
}

export function aadError(spec: AadErrorSpec, headers: IncomingHttpHeaders): ServiceResponse {
  const traceId = randomUUID();
  const correlationId = correlationIdOf(headers);
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const description =
    `AADSTS${spec.code}: ${spec.description}\r\n` +
    `Trace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`;
  return json(spec.status, {
    error: spec.error,
    error_description: description,
    error_codes: [spec.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${spec.code}`,
  }, { 'x-ms-request-id': traceId, 'client-request-id': correlationId });
}

export const AAD_ERRORS = {
  tenantNotFound: (tenant: string): AadErrorSpec => ({
    status: 400, error: 'invalid_request', code: 90002,
    description: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  }),
  unsupportedGrant: (): AadErrorSpec => ({
    status: 400, error: 'unsupported_grant_type', code: 70003,
    description: 'The app requested an unsupported grant type. This sandbox authority supports client_credentials and on-behalf-of only.',
  }),
  unknownClient: (clientId: string, tenant: string): AadErrorSpec => ({
    status: 400, error: 'unauthorized_client', code: 700016,
    description: `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
  }),
  missingCredential: (): AadErrorSpec => ({
    status: 401, error: 'invalid_client', code: 7000218,
    description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  }),
  invalidSecret: (clientId: string): AadErrorSpec => ({
    status: 401, error: 'invalid_client', code: 7000215,
    description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  invalidAssertion: (reason: string): AadErrorSpec => ({
    status: 401, error: 'invalid_client', code: 700027,
    description: `Client assertion failed signature validation or its claims are not valid (${reason}).`,
  }),
  invalidScope: (): AadErrorSpec => ({
    status: 400, error: 'invalid_scope', code: 1002012,
    description: 'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
  }),
  notFound: (): AadErrorSpec => ({
    status: 404, error: 'invalid_request', code: 90027,
    description: 'This endpoint does not exist on the sandbox authority.',
  }),
} as const;
