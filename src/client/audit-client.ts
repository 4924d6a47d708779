import { send } from './lib/send';
import type { Answer, Transport } from './lib/send';
import { suffix } from './lib/problem';
import { VendingClientError } from './vending-client-error';

/** Filters of `GET /audit`, as the service names them (README "Operating it"). */
export interface AuditQuery {
  /** ISO 8601 or relative (`30m`, `24h`, `7d`); default the last 24 h. */
  readonly since?: string;
  readonly until?: string;
  readonly workspace?: string;
  /** An object id or an app id. */
  readonly caller?: string;
  readonly outcome?: string;
  readonly tokenId?: string;
  /** Rows per request, 1-1000 (default 100). */
  readonly limit?: number;
}

/** One audit row as the service returns it: identifiers and decisions, never a token. */
export type AuditEntry = Readonly<Record<string, unknown>>;

export interface AuditPage {
  readonly items: readonly AuditEntry[];
  readonly since: string;
  readonly until: string;
  /** Present when more rows follow: pass it back to get them. */
  readonly continuation?: string;
}

export interface AuditLookup {
  readonly fingerprint: string;
  readonly items: readonly AuditEntry[];
}

/**
 * The audit API for callers the service names as auditors. Obtained from `VendingClient.audit()`,
 * so it shares that client's endpoint, caller credential and retry policy. Every read is itself
 * recorded by the service.
 */
export class AuditClient {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** One page, newest first. */
  async page(query: AuditQuery, continuation?: string): Promise<AuditPage> {
    const params = new URLSearchParams();
    const set = (name: string, value: string | number | undefined): void => {
      if (value !== undefined) params.set(name, String(value));
    };
    set('since', query.since);
    set('until', query.until);
    set('workspace', query.workspace);
    set('caller', query.caller);
    set('outcome', query.outcome);
    set('token_id', query.tokenId);
    set('limit', query.limit);
    set('continuation', continuation);
    const text = params.toString();
    return parsePage(await send(this.#transport, { method: 'GET', path: `/audit${text ? `?${text}` : ''}`, idempotent: true }));
  }

  /** Every row of the query, newest first, following the continuation page by page. */
  async *entries(query: AuditQuery): AsyncGenerator<AuditEntry> {
    let continuation: string | undefined;
    do {
      const page = await this.page(query, continuation);
      yield* page.items;
      continuation = page.continuation;
    } while (continuation);
  }

  /** `POST /audit/lookup`: the issuance of a token, found by its fingerprint. The token goes in the body only. */
  async lookup(token: string, range: { since?: string; until?: string } = {}): Promise<AuditLookup> {
    if (typeof token !== 'string' || token.length === 0) throw new TypeError('token must be a non-empty string.');
    const answer = await send(this.#transport, { method: 'POST', path: '/audit/lookup', body: { token, ...range }, idempotent: true });
    const body = answer.body as { fingerprint?: unknown; items?: unknown } | undefined;
    if (typeof body?.fingerprint !== 'string' || !isEntries(body.items)) throw invalid(answer);
    return { fingerprint: body.fingerprint, items: body.items };
  }
}

function parsePage(answer: Answer): AuditPage {
  const body = answer.body as { items?: unknown; since?: unknown; until?: unknown; continuation?: unknown } | undefined;
  if (!isEntries(body?.items) || typeof body.since !== 'string' || typeof body.until !== 'string') throw invalid(answer);
  if (body.continuation !== undefined && typeof body.continuation !== 'string') throw invalid(answer);
  return { items: body.items, since: body.since, until: body.until, ...(body.continuation ? { continuation: body.continuation } : {}) };
}

function isEntries(value: unknown): value is AuditEntry[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
}

function invalid(answer: Answer): VendingClientError {
  return new VendingClientError(`The vending API answered without the shape of an audit answer ${suffix(answer.status, answer.requestId)}.`, { code: 'invalid_response', status: answer.status, requestId: answer.requestId });
}
