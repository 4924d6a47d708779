import type { HttpHandler, HttpMethod } from '@azure/functions';
import { healthStatusCode, issueToken, listWorkspaces, revokeToken, runDecision } from '../core/vend';
import type { VendDeps } from '../core/vend';
import { jsonResponse } from '../core/http';
import { lookupAudit, readAudit } from '../core/audit-api';
import { contextLogger, incomingBody, methodNotAllowed, requestContext, toHttpResponse } from './adapter';
import { makeGrantRoutes } from './grant-routes';
import { perRequest } from './per-request';

export interface RouteDefinition {
  readonly name: string;
  /** Relative to the `api` prefix, in Functions route syntax. */
  readonly route: string;
  readonly authLevel: 'anonymous';
  readonly handler: HttpHandler;
}

/** Every method is routed to the handler so a wrong one gets 405 problem+json, not the host's bare 404. */
export const ALL_METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

// Functions' own auth level stays anonymous: callers are authenticated by their Entra ID token
// (Easy Auth in front, and verified again here), never by function keys.
export function makeRoutes(deps: VendDeps): RouteDefinition[] {
  const each = perRequest(deps);
  return [
    {
      name: 'token',
      route: 'token',
      authLevel: 'anonymous',
      handler: each(async (deps, request, context) => {
        const ctx = requestContext(request, context);
        return methodNotAllowed(request, ['POST']) ?? toHttpResponse(await runDecision(deps, ctx, contextLogger(context), 'token', (d) => issueToken(deps, ctx, incomingBody(request), d)));
      }),
    },
    {
      name: 'revokeToken',
      route: 'token/{workspace}/{token_id}',
      authLevel: 'anonymous',
      handler: each(async (deps, request, context) => {
        const ctx = requestContext(request, context);
        const params = { workspace: request.params.workspace ?? '', tokenId: request.params.token_id ?? '' };
        return methodNotAllowed(request, ['DELETE']) ?? toHttpResponse(await runDecision(deps, ctx, contextLogger(context), 'revoke', (d) => revokeToken(deps, ctx, params, d)));
      }),
    },
    {
      name: 'workspaces',
      route: 'workspaces',
      authLevel: 'anonymous',
      handler: each(async (deps, request, context) => {
        const ctx = requestContext(request, context);
        return methodNotAllowed(request, ['GET']) ?? toHttpResponse(await runDecision(deps, ctx, contextLogger(context), 'workspaces', () => listWorkspaces(deps, ctx)));
      }),
    },
    {
      name: 'audit',
      route: 'audit',
      authLevel: 'anonymous',
      handler: each(async (deps, request, context) => {
        const ctx = requestContext(request, context);
        return methodNotAllowed(request, ['GET']) ?? toHttpResponse(await runDecision(deps, ctx, contextLogger(context), 'audit', (d) => readAudit(deps, ctx, request.query, d)));
      }),
    },
    {
      name: 'auditLookup',
      route: 'audit/lookup',
      authLevel: 'anonymous',
      handler: each(async (deps, request, context) => {
        const ctx = requestContext(request, context);
        return methodNotAllowed(request, ['POST']) ?? toHttpResponse(await runDecision(deps, ctx, contextLogger(context), 'audit lookup', (d) => lookupAudit(deps, ctx, incomingBody(request), d)));
      }),
    },
    {
      name: 'health',
      route: 'health',
      authLevel: 'anonymous',
      handler: (request) => {
        const snapshot = deps.health.snapshot(deps.version);
        return Promise.resolve(methodNotAllowed(request, ['GET']) ?? toHttpResponse(jsonResponse(healthStatusCode(snapshot), snapshot, requestContext(request).requestId)));
      },
    },
    ...(deps.grantAdmin ? makeGrantRoutes(deps, deps.grantAdmin) : []),
  ];
}
