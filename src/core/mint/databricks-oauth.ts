import { decodeJwt } from 'jose';
import type { ServicePrincipal, Workspace } from '../config';
import { UpstreamRejectedError, UpstreamUnavailableError, isVendingError } from '../errors';
import type { VendingError } from '../errors';
import { parseRetryAfter } from './token-endpoint-observer';

/** A workspace-issued Databricks OAuth token (RFC 8693 exchange at `<host>/oidc/v1/token`). */
export interface ExchangedToken {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresOnMs: number;
  /** The scopes the workspace says it granted (its `scope` answer), else the ones asked for. */
  readonly scopes: readonly string[];
}

export interface DatabricksTokenExchanger {
  exchange(ws: Workspace, subjectToken: string, scopes: readonly string[]): Promise<ExchangedToken>;
}

/** Our own budget for one exchange: enforced by a timer, whatever fetch does with its signal. */
export const EXCHANGE_DEADLINE_MS = 10_000;

/**
 * Exchanges the SP's Entra ID token for a workspace OAuth token through the SP's federation
 * policy: `client_id` is the SP's application id, `scope` the requested API scopes. Only the
 * OAuth error code of a refusal is kept; Databricks' description never reaches a caller.
 *
 * Retry-After tells the truth (README "When an upstream misbehaves"): after a 429/5xx the caller
 * is told the workspace's own Retry-After, and no exchange for that workspace and SP is sent
 * before then; without one, or after no answer in time (the request is aborted, nothing of it
 * is kept), 1 s: fetch keeps no throttle state, so the next attempt is a fresh one.
 */
export function createDatabricksTokenExchanger(options: { clock?: () => number; deadlineMs?: number } = {}): DatabricksTokenExchanger {
  const now = options.clock ?? Date.now;
  const deadlineMs = options.deadlineMs ?? EXCHANGE_DEADLINE_MS;
  // Bounded by the configuration: one entry per (workspace, SP) at most.
  const notBefore = new Map<string, number>();
  return {
    async exchange(ws, subjectToken, scopes) {
      const key = `${ws.name}\u0000${ws.servicePrincipal.clientId}`;
      const waitMs = (notBefore.get(key) ?? 0) - now();
      if (waitMs > 0) throw new UpstreamUnavailableError(`Databricks workspace "${ws.name}" asked the service to wait before the next token exchange; no token was issued.`, undefined, Math.ceil(waitMs / 1000));
      notBefore.delete(key);
      const body = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subjectToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        client_id: ws.servicePrincipal.clientId,
        scope: scopes.join(' '),
      });
      const started = now();
      const res = await withDeadline(deadlineMs, ws, (signal) =>
        fetch(`${ws.host}/oidc/v1/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body, redirect: 'error', signal }),
      );
      const json = await withDeadline(deadlineMs, ws, () => res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) {
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
        if (retryAfterMs && (res.status === 429 || res.status >= 500)) notBefore.set(key, now() + retryAfterMs);
        throw sanitizeExchangeFailure(res.status, json, ws, subjectToken, retryAfterMs);
      }
      const token = json.access_token;
      const expiresIn = json.expires_in;
      if (typeof token !== 'string' || typeof expiresIn !== 'number') {
        throw new UpstreamUnavailableError(`Databricks workspace "${ws.name}" answered the token exchange without a token.`);
      }
      const granted = typeof json.scope === 'string' ? json.scope.split(' ').filter(Boolean) : [...scopes];
      return { token, expiresOnMs: started + expiresIn * 1000, scopes: granted };
    },
  };
}

async function withDeadline<T>(ms: number, ws: Workspace, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UpstreamUnavailableError(`Databricks workspace "${ws.name}" did not answer the token exchange within ${ms / 1000} s; no token was issued.`, undefined, 1));
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } catch (err) {
    if (isVendingError(err)) throw err;
    throw new UpstreamUnavailableError(`Databricks workspace "${ws.name}" could not be reached for the token exchange; no token was issued.`, err, 1);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A refusal becomes 502 with what the operators must configure: a federation policy on the SP
 * whose issuer, audience and subject match the SP's Entra ID token (identifiers, not secrets).
 * Anything else (5xx, 429) is 503: the workspace could not answer now; Retry-After is the
 * workspace's own (`retryAfterMs`) or 1 s.
 */
export function sanitizeExchangeFailure(status: number, body: Record<string, unknown>, ws: Workspace, subjectToken: string, retryAfterMs?: number): VendingError {
  if (status === 429 || status >= 500) {
    const seconds = Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000));
    return new UpstreamUnavailableError(`Databricks workspace "${ws.name}" answered the token exchange with HTTP ${status}; no token was issued.`, undefined, seconds);
  }
  const code = typeof body.error === 'string' && /^[a-z_]{1,64}$/.test(body.error) ? body.error : `HTTP ${status}`;
  return new UpstreamRejectedError({
    detail: `Databricks workspace "${ws.name}" refused the token exchange for service principal "${ws.servicePrincipal.name}" (${code}): ${policyHint(ws.servicePrincipal, subjectToken)}`,
  });
}

function policyHint(sp: ServicePrincipal, subjectToken: string): string {
  let claims: { iss?: unknown; aud?: unknown; sub?: unknown } = {};
  try {
    claims = decodeJwt(subjectToken);
  } catch {
    // not a JWT: the hint stays generic
  }
  const str = (v: unknown): string => (typeof v === 'string' && /^[\w:/.@-]{1,200}$/.test(v) ? v : '?');
  return (
    `the operators should create a federation policy on the Databricks service principal ${sp.clientId} with issuer ${str(claims.iss)}, ` +
    `audience ${str(claims.aud)} and subject ${str(claims.sub)}, and check that the SP is a member of the workspace and the scopes exist.`
  );
}
