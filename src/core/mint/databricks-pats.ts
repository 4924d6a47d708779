import type { Workspace } from '../config';
import { UnknownTokenError, UpstreamRejectedError, UpstreamUnavailableError } from '../errors';

export interface CreatedPat {
  readonly token: string;
  readonly tokenId: string;
  /** Epoch milliseconds. */
  readonly expiresOnMs: number;
}

/** Marks PATs this service created, and for whom, in the token's Databricks comment. */
export function patComment(callerTid: string, callerOid: string, requestId: string): string {
  return `dbx-token-vending caller=${callerTid}/${callerOid} request=${requestId}`;
}

/**
 * Databricks token API calls made as the SP (its Entra ID token as the bearer). Responses are
 * read for the fields we need only; Databricks' error text never reaches a caller.
 */
export async function createPat(ws: Workspace, spToken: string, lifetimeSeconds: number, comment: string, scopes?: readonly string[]): Promise<CreatedPat> {
  // `scopes` (token/create's API scopes of the PAT) is sent only when the grant names scopes.
  const request = { lifetime_seconds: lifetimeSeconds, comment, ...(scopes?.length ? { scopes: [...scopes] } : {}) };
  const body = await call<{ token_value?: unknown; token_info?: { token_id?: unknown; expiry_time?: unknown } }>(
    ws, spToken, 'POST', '/api/2.0/token/create', request,
  );
  const { token_value: token, token_info: info } = body;
  if (typeof token !== 'string' || typeof info?.token_id !== 'string' || typeof info.expiry_time !== 'number') {
    throw new UpstreamUnavailableError(`Databricks workspace "${ws.name}" answered token/create without a token.`);
  }
  return { token, tokenId: info.token_id, expiresOnMs: info.expiry_time };
}

export interface ListedPat {
  readonly tokenId: string;
  readonly comment: string;
  /** Epoch milliseconds; -1 for a PAT without expiry. */
  readonly expiresOnMs: number;
}

/** The SP's PATs in the workspace (ids, comments, expiry; never a token value). */
export async function listPats(ws: Workspace, spToken: string): Promise<ListedPat[]> {
  const list = await call<{ token_infos?: { token_id?: unknown; comment?: unknown; expiry_time?: unknown }[] }>(ws, spToken, 'GET', '/api/2.0/token/list');
  return (list.token_infos ?? []).flatMap((t) =>
    typeof t.token_id === 'string'
      ? [{ tokenId: t.token_id, comment: typeof t.comment === 'string' ? t.comment : '', expiresOnMs: typeof t.expiry_time === 'number' ? t.expiry_time : -1 }]
      : [],
  );
}

/** Revokes a PAT the SP owns, but only one whose comment names this caller. */
export async function revokePat(ws: Workspace, spToken: string, tokenId: string, callerMark: string): Promise<void> {
  const list = await call<{ token_infos?: { token_id?: unknown; comment?: unknown }[] }>(ws, spToken, 'GET', '/api/2.0/token/list');
  const mine = (list.token_infos ?? []).find((t) => t.token_id === tokenId && typeof t.comment === 'string' && t.comment.startsWith(callerMark));
  if (!mine) throw new UnknownTokenError({ detail: 'No token with this id was issued to this caller for this workspace, or it no longer exists.' });
  await call(ws, spToken, 'POST', '/api/2.0/token/delete', { token_id: tokenId });
}

/** Databricks' own error code is read (never its message); the token quota gets its own detail. */
async function failureOf(ws: Workspace, res: Response): Promise<Error> {
  const body = (await res.json().catch(() => ({}))) as { error_code?: unknown };
  if (body.error_code === 'QUOTA_EXCEEDED') {
    return new UpstreamUnavailableError(
      `Databricks workspace "${ws.name}" refused a new PAT: the service principal holds the most tokens Databricks allows one user (its token quota, 600 per workspace). PATs must expire or be revoked first.`,
      undefined,
      60,
    );
  }
  return new UpstreamUnavailableError(`Databricks workspace "${ws.name}" answered HTTP ${res.status}.`);
}

async function call<T>(ws: Workspace, spToken: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${ws.host}${path}`, {
      method,
      headers: { Authorization: `Bearer ${spToken}`, 'X-Databricks-Azure-Workspace-Resource-Id': ws.resourceId, 'Content-Type': 'application/json' },
      body: JSON.stringify(body), // undefined (no body) for a GET
      redirect: 'error',
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new UpstreamUnavailableError(`Databricks workspace "${ws.name}" could not be reached; no token was issued.`, err);
  }
  if (res.status === 401 || res.status === 403) {
    throw new UpstreamRejectedError({
      detail: `Databricks workspace "${ws.name}" refused the service principal (HTTP ${res.status}): the operators should add it to the workspace and allow it to use tokens.`,
    });
  }
  if (!res.ok) throw await failureOf(ws, res);
  return (await res.json()) as T;
}
