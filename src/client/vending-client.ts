import { setTimeout as delay } from 'node:timers/promises';
import { AuditClient } from './audit-client';
import { normalizeApiScopes } from './lib/api-scopes';
import { callerTokenSource } from './lib/caller-token';
import { parseVendedToken, parseWorkspaces } from './lib/parse-answers';
import { send } from './lib/send';
import type { Transport } from './lib/send';
import { SingleFlightCache } from './lib/single-flight-cache';
import { tokenCacheKey } from './lib/token-cache-key';
import type { Clock, HeadersRequest, TokenMode, TokenRequest, VendedToken, VendingClientOptions, WorkspaceEntitlement } from './types';

const DEFAULT_MIN_VALIDITY_SECONDS = 300;
/** The service refuses a longer min_validity_seconds (DESIGN §2). */
const MAX_MIN_VALIDITY_SECONDS = 3000;
/** Margin for the clock difference and the time between getting a token and using it. */
const VALIDITY_SKEW_SECONDS = 30;

const MODES: readonly TokenMode[] = ['aad', 'pat', 'oauth', 'user'];

/**
 * The vending API as a caller sees it. `aad`, `oauth` and `user` tokens are cached per caller,
 * workspace, mode, management-token flag and scope set (./lib/token-cache-key), and concurrent
 * requests for one key share a single call; PATs are created anew on every `getToken` and never kept.
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
      callerToken: callerTokenSource({ credential: options.credential, getCallerToken: options.getCallerToken, scope: callerScope(options), clock: this.#clock }),
    };
  }

  /**
   * `POST /token`. An `aad`, `oauth` or `user` token comes from the cache while it stays valid
   * for `minValiditySeconds` (+ skew), and only for the same caller and scope set.
   */
  async getToken(request: TokenRequest): Promise<VendedToken> {
    const mode = checkRequest(request);
    const scopes = request.scopes === undefined ? undefined : normalizeApiScopes(request.scopes);
    if (mode === 'pat') return this.#handOut(await this.#requestToken(this.#transport, request, scopes, request.minValiditySeconds));
    const wanted = Math.min(MAX_MIN_VALIDITY_SECONDS, nonNegativeInt(request.minValiditySeconds, DEFAULT_MIN_VALIDITY_SECONDS, 'minValiditySeconds') + VALIDITY_SKEW_SECONDS);
    // The caller token that keys the cache is the one that asks the service (retries included).
    const callerToken = await this.#transport.callerToken();
    const transport: Transport = { ...this.#transport, callerToken: () => Promise.resolve(callerToken) };
    const key = tokenCacheKey(callerToken, { workspace: request.workspace, mode, managementToken: request.managementToken === true, scopes: scopes ?? [] });
    const token = await this.#tokens.get(key, (t) => this.#secondsLeft(t) >= wanted, () => this.#requestToken(transport, request, scopes, wanted));
    return this.#handOut(token);
  }

  /** The headers to put on Databricks REST calls for `workspace`, from a cached `aad` token. */
  async databricksHeaders(workspace: string, options: HeadersRequest = {}): Promise<Record<string, string>> {
    const token = await this.getToken({ ...options, workspace, mode: 'aad' });
    return { ...token.headers };
  }

  /** The audit API (`/audit`), for callers the service names as auditors; same endpoint and credential. */
  audit(): AuditClient {
    return new AuditClient(this.#transport);
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

  async #requestToken(transport: Transport, request: TokenRequest, scopes: readonly string[] | undefined, minValiditySeconds: number | undefined): Promise<VendedToken> {
    const body = {
      workspace: request.workspace,
      mode: request.mode ?? 'aad',
      ...(scopes === undefined ? {} : { scopes }),
      ...(minValiditySeconds === undefined ? {} : { min_validity_seconds: minValiditySeconds }),
      ...(request.managementToken === undefined ? {} : { management_token: request.managementToken }),
      ...(request.purpose === undefined ? {} : { purpose: request.purpose }),
      ...(request.lifetimeSeconds === undefined ? {} : { lifetime_seconds: request.lifetimeSeconds }),
    };
    // A PAT is created by the call itself, so a lost answer must not make a second one.
    const answer = await send(transport, { method: 'POST', path: '/token', body, idempotent: body.mode !== 'pat' });
    return deepFreeze(parseVendedToken(answer));
  }

  #secondsLeft(token: VendedToken): number {
    return token.expires_on - this.#clock.now() / 1000;
  }

  #handOut(token: VendedToken): VendedToken {
    return { ...token, expires_in: Math.max(0, Math.floor(this.#secondsLeft(token))) };
  }
}

/**
 * What the service takes from which mode (DESIGN §2): a field it would refuse is a TypeError
 * here, before a round trip. Returns the mode.
 */
function checkRequest(request: TokenRequest): TokenMode {
  nonEmpty(request.workspace, 'workspace');
  const mode = request.mode ?? 'aad';
  if (!MODES.includes(mode)) throw new TypeError(`mode must be one of ${MODES.join(', ')}.`);
  if (request.scopes !== undefined && mode !== 'oauth' && mode !== 'pat') throw new TypeError('scopes apply to modes oauth and pat only.');
  if (request.managementToken === true && mode !== 'aad') throw new TypeError('managementToken applies to mode aad only.');
  if (request.lifetimeSeconds !== undefined && mode !== 'pat') throw new TypeError('lifetimeSeconds applies to mode pat only.');
  return mode;
}

/** The vending API's scope: needed only to get a caller token from `credential`, and never guessed. */
function callerScope(options: VendingClientOptions): string {
  if (options.getCallerToken || !options.credential) return options.scope ?? '';
  if (typeof options.scope !== 'string' || options.scope.trim() === '') {
    throw new TypeError("VendingClient needs the vending API's scope with a credential, e.g. api://<vending API app id>/.default.");
  }
  return options.scope;
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
