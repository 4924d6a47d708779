import { setTimeout as delay } from 'node:timers/promises';
import { callerTokenSource } from './lib/caller-token';
import { parseVendedToken, parseWorkspaces } from './lib/parse-answers';
import { send } from './lib/send';
import type { Transport } from './lib/send';
import { SingleFlightCache } from './lib/single-flight-cache';
import type { Clock, HeadersRequest, TokenRequest, VendedToken, VendingClientOptions, WorkspaceEntitlement } from './types';

export const DEFAULT_SCOPE = 'api://dbx-token-vending/.default';
const DEFAULT_MIN_VALIDITY_SECONDS = 300;
/** The service refuses a longer min_validity_seconds (DESIGN §2). */
const MAX_MIN_VALIDITY_SECONDS = 3000;
/** Margin for the clock difference and the time between getting a token and using it. */
const VALIDITY_SKEW_SECONDS = 30;

/**
 * The vending API as a caller sees it. Entra ID (`aad`) tokens are cached per workspace and
 * management-token flag, and concurrent requests for one key share a single call; PATs are
 * created anew on every `getToken` and never kept.
 */
export class VendingClient {
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #tokens = new SingleFlightCache<VendedToken>();

  constructor(options: VendingClientOptions) {
    this.#clock = options.clock ?? Date;
    this.#transport = {
      endpoint: checkEndpoint(options.endpoint),
      fetch: options.fetch ?? globalThis.fetch,
      clock: this.#clock,
      sleep: options.sleep ?? ((ms: number) => delay(ms)),
      timeoutMs: positive(options.timeoutMs, 15_000, 'timeoutMs'),
      maxRetries: nonNegativeInt(options.maxRetries, 2, 'maxRetries'),
      maxRetryWaitMs: positive(options.maxRetryWaitSeconds, 10, 'maxRetryWaitSeconds') * 1000,
      callerToken: callerTokenSource({ credential: options.credential, getCallerToken: options.getCallerToken, scope: options.scope ?? DEFAULT_SCOPE, clock: this.#clock }),
    };
  }

  /** `POST /token`. An `aad` token comes from the cache while it stays valid for `minValiditySeconds` (+ skew). */
  async getToken(request: TokenRequest): Promise<VendedToken> {
    nonEmpty(request.workspace, 'workspace');
    if ((request.mode ?? 'aad') === 'pat') return this.#handOut(await this.#requestToken(request, request.minValiditySeconds));
    const wanted = Math.min(MAX_MIN_VALIDITY_SECONDS, nonNegativeInt(request.minValiditySeconds, DEFAULT_MIN_VALIDITY_SECONDS, 'minValiditySeconds') + VALIDITY_SKEW_SECONDS);
    const key = `${request.workspace}\u0000${request.managementToken === true ? 'management' : ''}`;
    const token = await this.#tokens.get(key, (t) => this.#secondsLeft(t) >= wanted, () => this.#requestToken(request, wanted));
    return this.#handOut(token);
  }

  /** The headers to put on Databricks REST calls for `workspace`, from a cached `aad` token. */
  async databricksHeaders(workspace: string, options: HeadersRequest = {}): Promise<Record<string, string>> {
    const token = await this.getToken({ ...options, workspace, mode: 'aad' });
    return { ...token.headers };
  }

  /** `GET /workspaces`: the workspaces this caller may vend for. */
  async listWorkspaces(): Promise<WorkspaceEntitlement[]> {
    return parseWorkspaces(await send(this.#transport, { method: 'GET', path: '/workspaces', idempotent: true }));
  }

  /** `DELETE /token/{workspace}/{tokenId}`: revokes a PAT this caller received. */
  async revokeToken(workspace: string, tokenId: string): Promise<void> {
    nonEmpty(workspace, 'workspace');
    nonEmpty(tokenId, 'tokenId');
    await send(this.#transport, { method: 'DELETE', path: `/token/${encodeURIComponent(workspace)}/${encodeURIComponent(tokenId)}`, idempotent: true });
  }

  async #requestToken(request: TokenRequest, minValiditySeconds: number | undefined): Promise<VendedToken> {
    const body = {
      workspace: request.workspace,
      mode: request.mode ?? 'aad',
      ...(minValiditySeconds === undefined ? {} : { min_validity_seconds: minValiditySeconds }),
      ...(request.managementToken === undefined ? {} : { management_token: request.managementToken }),
      ...(request.purpose === undefined ? {} : { purpose: request.purpose }),
      ...(request.lifetimeSeconds === undefined ? {} : { lifetime_seconds: request.lifetimeSeconds }),
    };
    // A PAT is created by the call itself, so a lost answer must not make a second one.
    const answer = await send(this.#transport, { method: 'POST', path: '/token', body, idempotent: body.mode !== 'pat' });
    return deepFreeze(parseVendedToken(answer));
  }

  #secondsLeft(token: VendedToken): number {
    return token.expires_on - this.#clock.now() / 1000;
  }

  #handOut(token: VendedToken): VendedToken {
    return { ...token, expires_in: Math.max(0, Math.floor(this.#secondsLeft(token))) };
  }
}

/** The caller token travels to this URL: https only, except plain http to this machine. */
function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError('VendingClient endpoint is not a URL.');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new TypeError('VendingClient endpoint must use https (http only on loopback).');
  if (url.username || url.password || url.search || url.hash) throw new TypeError('VendingClient endpoint must not carry credentials, a query or a fragment.');
  return url.href.replace(/\/+$/, '');
}

function nonEmpty(value: unknown, name: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string.`);
}

function nonNegativeInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer.`);
  return value;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number.`);
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
