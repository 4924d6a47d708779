import { setTimeout as delay } from 'node:timers/promises';
import type { TokenCredential } from '../types';
import { callerTokenSource } from '../lib/caller-token';
import { send } from '../lib/send';
import type { Transport } from '../lib/send';

export type GrantItem = Record<string, unknown> & { id: string; workspace: string };

/** The grant routes of the vending API, for owners, admins and requesters. Answers are passed on as JSON. */
export class GrantsClient {
  readonly #t: Transport;

  constructor(options: { endpoint: string; scope: string; credential?: TokenCredential; getCallerToken?: () => Promise<string> }) {
    this.#t = {
      endpoint: options.endpoint.replace(/\/+$/, ''),
      fetch: globalThis.fetch,
      clock: Date,
      sleep: (ms) => delay(ms),
      timeoutMs: 15_000,
      maxRetries: 2,
      maxRetryWaitMs: 10_000,
      callerToken: callerTokenSource({ credential: options.credential, getCallerToken: options.getCallerToken, scope: options.scope, clock: Date }),
    };
  }

  async list(query: { workspace?: string; status?: string }): Promise<GrantItem[]> {
    return (await send(this.#t, { method: 'GET', path: `/grants${queryOf(query)}`, idempotent: true })).body as GrantItem[];
  }

  async create(body: Record<string, unknown>): Promise<GrantItem> {
    return (await send(this.#t, { method: 'POST', path: '/grants', body, idempotent: false })).body as GrantItem;
  }

  async revoke(id: string): Promise<GrantItem> {
    return (await send(this.#t, { method: 'DELETE', path: `/grants/${encodeURIComponent(id)}`, idempotent: true })).body as GrantItem;
  }

  async renew(id: string, body: Record<string, unknown>): Promise<GrantItem> {
    return (await send(this.#t, { method: 'POST', path: `/grants/${encodeURIComponent(id)}/renew`, body, idempotent: true })).body as GrantItem;
  }

  async request(body: Record<string, unknown>): Promise<GrantItem> {
    return (await send(this.#t, { method: 'POST', path: '/grant-requests', body, idempotent: false })).body as GrantItem;
  }

  async requests(query: { workspace?: string; state?: string }): Promise<GrantItem[]> {
    return (await send(this.#t, { method: 'GET', path: `/grant-requests${queryOf(query)}`, idempotent: true })).body as GrantItem[];
  }

  async decide(id: string, decision: 'approve' | 'decline', body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (await send(this.#t, { method: 'POST', path: `/grant-requests/${encodeURIComponent(id)}/${decision}`, body, idempotent: false })).body as Record<string, unknown>;
  }
}

function queryOf(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, v]])));
  const text = params.toString();
  return text ? `?${text}` : '';
}
