import { json } from './service.js';
import type { ServiceRequest, ServiceResponse } from './service.js';
import type { PatStore } from './pat-store.js';

/** A workspace principal (here always a service principal, named by its application id). */
export interface WorkspaceMember {
  readonly appId: string;
  readonly id: string;
  readonly displayName: string;
}

export const dbxError = (status: number, code: string, message: string): ServiceResponse =>
  json(status, { error_code: code, message });

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.length ? body.toString('utf8') : '{}');
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function me(member: WorkspaceMember): ServiceResponse {
  return json(200, {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:workspace:2.0:User'],
    id: member.id,
    userName: member.appId,
    displayName: member.displayName,
    active: true,
    emails: [],
    groups: [],
  });
}

export function createPat(pats: PatStore, owner: string, req: ServiceRequest): ServiceResponse {
  const body = parseJsonObject(req.body);
  if (!body) return dbxError(400, 'MALFORMED_REQUEST', 'Request body is not a JSON object.');
  const lifetime = body.lifetime_seconds ?? undefined;
  const comment = body.comment ?? '';
  if (lifetime !== undefined && (!Number.isSafeInteger(lifetime) || (lifetime as number) < 1)) {
    return dbxError(400, 'INVALID_PARAMETER_VALUE', 'lifetime_seconds must be a positive integer.');
  }
  if (typeof comment !== 'string') return dbxError(400, 'INVALID_PARAMETER_VALUE', 'comment must be a string.');
  const scopes = body.scopes;
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !/^[a-z][a-z0-9-]{0,63}(:(read|restricted-query))*$/.test(s)))) {
    return dbxError(400, 'INVALID_PARAMETER_VALUE', 'scopes must be a list of API scopes.');
  }
  const { tokenValue, info } = pats.create(owner, lifetime as number | undefined, comment, scopes as string[] | undefined);
  return json(200, { token_value: tokenValue, token_info: info });
}

export function deletePat(pats: PatStore, owner: string, req: ServiceRequest): ServiceResponse {
  const body = parseJsonObject(req.body);
  const tokenId = body?.token_id;
  if (typeof tokenId !== 'string' || !tokenId) return dbxError(400, 'INVALID_PARAMETER_VALUE', 'token_id is required.');
  if (!pats.delete(owner, tokenId)) {
    return dbxError(404, 'RESOURCE_DOES_NOT_EXIST', `Token with ID ${tokenId.slice(0, 64)} does not exist.`);
  }
  return json(200, {});
}

/** `clusters/create`, just far enough to tell a write from a read: it answers a new cluster id. */
export function createCluster(): ServiceResponse {
  return json(200, { cluster_id: `0000-${Date.now().toString(36)}-sandbox` });
}

export function listPats(pats: PatStore, owner: string): ServiceResponse {
  return json(200, { token_infos: pats.list(owner) });
}
