import { ConflictError, InvalidRequestError, NotFoundError } from '../errors';
import { jsonResponse, readJsonBody } from '../http';
import type { CoreResponse, IncomingBody } from '../http';
import { authenticate } from '../vend/authenticate';
import type { RequestContext, VendDeps } from '../vend/vend-deps';
import { actorOf, managedWorkspaces, requireManager } from './grant-admin';
import type { GrantAdmin } from './grant-admin';
import type { GrantAttempt } from './grant-audit';
import { recordChange } from './grant-audit';
import { createGrantBody, isOurId, renewBody } from './grant-bodies';
import { checkTenants, isoAt, readOptionalJson, resolveExpiry } from './grant-rules';
import { apiGrantSchema, statusOf } from './grant-types';
import type { ApiGrant } from './grant-types';

export interface GrantsQuery {
  readonly workspace: string | null;
  readonly status: string | null;
}

/** POST /api/grants: an owner (or admin) grants access to its workspace, until an expiry. */
export async function createGrant(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, incoming: IncomingBody, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const body = await readJsonBody(incoming, createGrantBody);
  attempt.workspace = body.workspace;
  requireManager(admin, caller, body.workspace);
  checkTenants(deps.config, body.tenants, body.modes);
  const now = deps.clock.now();
  const { expiresAt, reason, ...fields } = body;
  const grant: ApiGrant = { ...fields, id: admin.newId(), expiresAt: resolveExpiry(deps.config, now, expiresAt), reason, createdBy: actorOf(caller), createdAt: isoAt(now), state: 'active' };
  attempt.grantId = grant.id;
  await recordChange(deps, ctx, attempt, 'grant_created', 201, grant);
  await admin.store.insert('grant', grant);
  admin.cache.applyLocal(grant);
  return jsonResponse(201, apiView(grant, now), ctx.requestId);
}

/** GET /api/grants[?workspace=W][&status=active|expired|revoked]: config grants marked read-only. */
export async function listGrants(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, query: GrantsQuery, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  if (query.status !== null && !['active', 'expired', 'revoked'].includes(query.status)) throw new InvalidRequestError({ detail: 'status: must be active, expired or revoked.' });
  let workspaces: string[];
  if (query.workspace !== null) {
    attempt.workspace = query.workspace;
    requireManager(admin, caller, query.workspace);
    workspaces = [query.workspace];
  } else {
    workspaces = managedWorkspaces(admin, caller);
  }
  const now = deps.clock.now();
  const fromConfig = deps.config.grants.flatMap((g, i) => (workspaces.includes(g.workspace) ? [{ id: `config:${i}`, source: 'config', readOnly: true, status: 'active', ...g }] : []));
  const rows = workspaces.length > 0 ? await admin.store.list('grant', apiGrantSchema) : [];
  const fromApi = rows.filter((r) => workspaces.includes(r.item.workspace)).map((r) => apiView(r.item, now));
  const items = [...fromConfig, ...fromApi.sort((a, b) => a.createdAt.localeCompare(b.createdAt))];
  return jsonResponse(200, query.status === null ? items : items.filter((i) => i.status === query.status), ctx.requestId);
}

/** DELETE /api/grants/{id}: revocation is a state change; the row stays, listed as revoked. */
export async function revokeGrant(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, id: string, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const { item, etag } = await findGrant(admin, id, attempt);
  requireManager(admin, caller, item.workspace);
  if (item.state === 'revoked') throw new ConflictError({ detail: 'This grant is already revoked.' });
  const now = deps.clock.now();
  const revoked: ApiGrant = { ...item, state: 'revoked', revokedBy: actorOf(caller), revokedAt: isoAt(now) };
  await recordChange(deps, ctx, attempt, 'grant_revoked', 200, revoked);
  await admin.store.replace('grant', revoked, etag);
  admin.cache.applyLocal(revoked);
  return jsonResponse(200, apiView(revoked, now), ctx.requestId);
}

/** POST /api/grants/{id}/renew: a new expiry (default: the default span from now), within the maximum. */
export async function renewGrant(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, id: string, incoming: IncomingBody, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const { item, etag } = await findGrant(admin, id, attempt);
  requireManager(admin, caller, item.workspace);
  const body = await readOptionalJson(incoming, renewBody);
  if (item.state === 'revoked') throw new ConflictError({ detail: 'A revoked grant stays revoked; create a new one.' });
  const now = deps.clock.now();
  const renewed: ApiGrant = { ...item, expiresAt: resolveExpiry(deps.config, now, body.expiresAt), ...(body.reason ? { reason: body.reason } : {}), renewedBy: actorOf(caller), renewedAt: isoAt(now) };
  await recordChange(deps, ctx, attempt, 'grant_renewed', 200, renewed);
  await admin.store.replace('grant', renewed, etag);
  admin.cache.applyLocal(renewed);
  return jsonResponse(200, apiView(renewed, now), ctx.requestId);
}

async function findGrant(admin: GrantAdmin, id: string, attempt: GrantAttempt): Promise<{ item: ApiGrant; etag: string }> {
  if (/^config:\d+$/.test(id)) throw new ConflictError({ detail: 'Grants of the config document are read-only here; change the document instead.' });
  if (!isOurId(id)) throw new InvalidRequestError({ detail: 'The grant id is not one this service makes.' });
  attempt.grantId = id;
  const found = await admin.store.get('grant', id, apiGrantSchema);
  if (!found) throw new NotFoundError({ detail: 'No grant with this id.' });
  attempt.workspace = found.item.workspace;
  return found;
}

export function apiView(grant: ApiGrant, nowMs: number): ApiGrant & { source: 'api'; readOnly: false; status: string } {
  return { ...grant, source: 'api', readOnly: false, status: statusOf(grant, nowMs) };
}
