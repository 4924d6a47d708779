import { grantFields, grantSchema } from '../config';
import type { GrantDocument } from '../config';
import { ConflictError, InvalidRequestError, NotFoundError, NotGrantedError } from '../errors';
import { jsonResponse, readJsonBody } from '../http';
import type { CoreResponse, IncomingBody } from '../http';
import type { CallerIdentity } from '../policy';
import { authenticate } from '../vend/authenticate';
import type { RequestContext, VendDeps } from '../vend/vend-deps';
import { actorOf, isSameActor, requireManager } from './grant-admin';
import type { GrantAdmin } from './grant-admin';
import type { GrantAttempt } from './grant-audit';
import { recordChange } from './grant-audit';
import { approveBody, declineBody, isOurId, requestGrantBody } from './grant-bodies';
import { checkTenants, isoAt, readOptionalJson, resolveExpiry } from './grant-rules';
import { grantRequestSchema } from './grant-types';
import type { ApiGrant, GrantRequest } from './grant-types';

/** POST /api/grant-requests: any authenticated caller asks the owners of a workspace, with a reason. */
export async function requestGrant(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, incoming: IncomingBody, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const body = await readJsonBody(incoming, requestGrantBody);
  attempt.workspace = body.workspace;
  if (!deps.config.workspaces.has(body.workspace)) throw new NotGrantedError({ detail: `Not granted, or no such workspace: "${body.workspace}".` });
  checkTenants(deps.config, body.tenants, body.modes);
  const now = deps.clock.now();
  const request: GrantRequest = {
    ...body,
    ...defaultsFor(caller, deps.config.tenantId, body),
    ...(body.expiresAt ? { expiresAt: resolveExpiry(deps.config, now, body.expiresAt) } : {}),
    id: admin.newId(),
    createdBy: actorOf(caller),
    createdAt: isoAt(now),
    state: 'pending',
  };
  attempt.grantId = request.id;
  await recordChange(deps, ctx, attempt, 'grant_requested', 201, request);
  await admin.store.insert('request', request);
  return jsonResponse(201, request, ctx.requestId);
}

/** The caller itself (the app acting as itself, or the user), from its own tenant; aad; an hour. */
function defaultsFor(caller: CallerIdentity, homeTenantId: string, body: { callers?: GrantRequest['callers']; tenants?: string[]; modes?: GrantRequest['modes']; maxLifetimeSeconds?: number; managementToken?: boolean }) {
  const self = caller.kind === 'app' ? { roles: [], appIds: [caller.appId], objectIds: [] } : { roles: [], appIds: [], objectIds: [caller.objectId] };
  const foreign = caller.tenantId !== homeTenantId && body.callers === undefined && body.tenants === undefined;
  return {
    callers: body.callers ?? self,
    ...(foreign ? { tenants: [caller.tenantId] } : {}),
    modes: body.modes ?? ['aad' as const],
    maxLifetimeSeconds: body.maxLifetimeSeconds ?? 3600,
    managementToken: body.managementToken ?? false,
  };
}

/** GET /api/grant-requests: with ?workspace=W, that workspace's requests for its owners (default: pending); without, the caller's own. */
export async function listRequests(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, query: { workspace: string | null; state: string | null }, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  if (query.state !== null && !['pending', 'approved', 'declined', 'all'].includes(query.state)) throw new InvalidRequestError({ detail: 'state: must be pending, approved, declined or all.' });
  const rows = (await admin.store.list('request', grantRequestSchema)).map((r) => r.item);
  let items: GrantRequest[];
  if (query.workspace !== null) {
    attempt.workspace = query.workspace;
    requireManager(admin, caller, query.workspace);
    const state = query.state ?? 'pending';
    items = rows.filter((r) => r.workspace === query.workspace && (state === 'all' || r.state === state));
  } else {
    items = rows.filter((r) => isSameActor(r.createdBy, caller) && (query.state === null || query.state === 'all' || r.state === query.state));
  }
  return jsonResponse(200, items.sort((a, b) => a.createdAt.localeCompare(b.createdAt)), ctx.requestId);
}

/** POST /api/grant-requests/{id}/approve: creates the grant, as asked or narrower, never wider. */
export async function approveRequest(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, id: string, incoming: IncomingBody, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const { item: request, etag } = await findPending(admin, id, caller, attempt);
  const body = await readOptionalJson(incoming, approveBody);
  const now = deps.clock.now();
  const askedExpiry = request.expiresAt;
  const asked = grantFieldsOf(request);
  const expiresAt = resolveExpiry(deps.config, now, body.expiresAt ?? askedExpiry);
  checkNarrower(asked, body, askedExpiry, expiresAt);
  const grant: ApiGrant = {
    ...asked,
    ...(body.modes ? { modes: body.modes } : {}),
    ...(body.maxLifetimeSeconds ? { maxLifetimeSeconds: body.maxLifetimeSeconds } : {}),
    ...(body.managementToken !== undefined ? { managementToken: body.managementToken } : {}),
    id: admin.newId(), expiresAt, reason: request.reason, createdBy: actorOf(caller), createdAt: isoAt(now), state: 'active', fromRequest: request.id,
  };
  const approved: GrantRequest = { ...request, state: 'approved', decidedBy: actorOf(caller), decidedAt: isoAt(now), grantId: grant.id, ...(body.note ? { decisionNote: body.note } : {}) };
  await recordChange(deps, ctx, attempt, 'grant_approved', 201, { request: request.id, requestedBy: request.createdBy, grant });
  // The request first, conditionally: two owners approving at once make one grant, not two.
  await admin.store.replace('request', approved, etag);
  await admin.store.insert('grant', grant);
  admin.cache.applyLocal(grant);
  return jsonResponse(201, { request: approved, grant: { ...grant, source: 'api', readOnly: false, status: 'active' } }, ctx.requestId);
}

/** POST /api/grant-requests/{id}/decline */
export async function declineRequest(deps: VendDeps, admin: GrantAdmin, ctx: RequestContext, id: string, incoming: IncomingBody, attempt: GrantAttempt): Promise<CoreResponse> {
  const caller = (attempt.caller = await authenticate(deps, ctx));
  const { item: request, etag } = await findPending(admin, id, caller, attempt);
  const body = await readOptionalJson(incoming, declineBody);
  const declined: GrantRequest = { ...request, state: 'declined', decidedBy: actorOf(caller), decidedAt: isoAt(deps.clock.now()), ...(body.note ? { decisionNote: body.note } : {}) };
  await recordChange(deps, ctx, attempt, 'grant_declined', 200, declined);
  await admin.store.replace('request', declined, etag);
  return jsonResponse(200, declined, ctx.requestId);
}

async function findPending(admin: GrantAdmin, id: string, caller: CallerIdentity, attempt: GrantAttempt): Promise<{ item: GrantRequest; etag: string }> {
  if (!isOurId(id)) throw new InvalidRequestError({ detail: 'The request id is not one this service makes.' });
  attempt.grantId = id;
  const found = await admin.store.get('request', id, grantRequestSchema);
  if (!found) throw new NotFoundError({ detail: 'No grant request with this id.' });
  attempt.workspace = found.item.workspace;
  requireManager(admin, caller, found.item.workspace);
  if (found.item.state !== 'pending') throw new ConflictError({ detail: `This request is already ${found.item.state}.` });
  return found;
}

/** The grant fields of a request, exactly as the config grant schema defines them (and re-checked by it). */
function grantFieldsOf(request: GrantRequest): GrantDocument {
  const source = request as Record<string, unknown>;
  return grantSchema.parse(Object.fromEntries(Object.keys(grantFields.shape).map((k) => [k, source[k]])));
}

type Narrowing = { modes?: readonly string[]; maxLifetimeSeconds?: number; managementToken?: boolean };

function checkNarrower(asked: { modes: readonly string[]; maxLifetimeSeconds: number; managementToken: boolean }, body: Narrowing, askedExpiry: string | undefined, expiresAt: string): void {
  const wider: string[] = [];
  if (body.modes?.some((m) => !asked.modes.includes(m))) wider.push('modes');
  if (body.maxLifetimeSeconds !== undefined && body.maxLifetimeSeconds > asked.maxLifetimeSeconds) wider.push('maxLifetimeSeconds');
  if (body.managementToken === true && !asked.managementToken) wider.push('managementToken');
  if (askedExpiry !== undefined && Date.parse(expiresAt) > Date.parse(askedExpiry)) wider.push('expiresAt');
  if (wider.length > 0) throw new InvalidRequestError({ detail: `An approval may only narrow the request; wider than asked: ${wider.join(', ')}.` });
}
