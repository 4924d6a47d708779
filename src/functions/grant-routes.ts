import type { HttpHandler, HttpRequest, InvocationContext } from '@azure/functions';
import {
  approveRequest,
  createGrant,
  declineRequest,
  listGrants,
  listRequests,
  renewGrant,
  requestGrant,
  revokeGrant,
  runGrantAction,
} from '../core/grants';
import type { GrantAdmin } from '../core/grants';
import type { GrantAttempt } from '../core/grants/grant-audit';
import type { CoreResponse } from '../core/http';
import { checkWorkspaceName } from '../core/vend/authenticate';
import type { RequestContext, VendDeps } from '../core/vend';
import { contextLogger, incomingBody, methodNotAllowed, requestContext, toHttpResponse } from './adapter';
import { perRequest } from './per-request';
import type { RouteDefinition } from './routes';

type Action = (deps: VendDeps, request: HttpRequest, ctx: RequestContext, attempt: GrantAttempt) => Promise<CoreResponse>;

/** One handler per route: 405 first, then each method to its action, run (with the request's own deps) and recorded like a vend. */
function handler(deps: VendDeps, actions: Readonly<Record<string, [string, Action]>>): HttpHandler {
  return perRequest(deps)(async (deps: VendDeps, request: HttpRequest, context: InvocationContext) => {
    const chosen = actions[request.method.toUpperCase()];
    if (!chosen) return methodNotAllowed(request, Object.keys(actions)) ?? { status: 405 };
    const [name, action] = chosen;
    const ctx = requestContext(request, context);
    return toHttpResponse(await runGrantAction(deps, ctx, contextLogger(context), name, (attempt) => action(deps, request, ctx, attempt)));
  });
}

/** A workspace given in the query has the configured names' syntax, or the request stops (400). */
function workspaceParam(request: HttpRequest): string | null {
  const value = request.query.get('workspace');
  return value === null ? null : checkWorkspaceName(value);
}

/** The grant management routes (owners and admins), and grant requests (any authenticated caller). */
export function makeGrantRoutes(deps: VendDeps, admin: GrantAdmin): RouteDefinition[] {
  const id = (request: HttpRequest): string => request.params.id ?? '';
  return [
    {
      name: 'grants',
      route: 'grants',
      authLevel: 'anonymous',
      handler: handler(deps, {
        GET: ['grants.list', (d, r, ctx, a) => listGrants(d, admin, ctx, { workspace: workspaceParam(r), status: r.query.get('status') }, a)],
        POST: ['grants.create', (d, r, ctx, a) => createGrant(d, admin, ctx, incomingBody(r), a)],
      }),
    },
    {
      name: 'grant',
      route: 'grants/{id}',
      authLevel: 'anonymous',
      handler: handler(deps, { DELETE: ['grants.revoke', (d, r, ctx, a) => revokeGrant(d, admin, ctx, id(r), a)] }),
    },
    {
      name: 'grantRenew',
      route: 'grants/{id}/renew',
      authLevel: 'anonymous',
      handler: handler(deps, { POST: ['grants.renew', (d, r, ctx, a) => renewGrant(d, admin, ctx, id(r), incomingBody(r), a)] }),
    },
    {
      name: 'grantRequests',
      route: 'grant-requests',
      authLevel: 'anonymous',
      handler: handler(deps, {
        GET: ['grant-requests.list', (d, r, ctx, a) => listRequests(d, admin, ctx, { workspace: workspaceParam(r), state: r.query.get('state') }, a)],
        POST: ['grant-requests.create', (d, r, ctx, a) => requestGrant(d, admin, ctx, incomingBody(r), a)],
      }),
    },
    {
      name: 'grantRequestApprove',
      route: 'grant-requests/{id}/approve',
      authLevel: 'anonymous',
      handler: handler(deps, { POST: ['grant-requests.approve', (d, r, ctx, a) => approveRequest(d, admin, ctx, id(r), incomingBody(r), a)] }),
    },
    {
      name: 'grantRequestDecline',
      route: 'grant-requests/{id}/decline',
      authLevel: 'anonymous',
      handler: handler(deps, { POST: ['grant-requests.decline', (d, r, ctx, a) => declineRequest(d, admin, ctx, id(r), incomingBody(r), a)] }),
    },
  ];
}
