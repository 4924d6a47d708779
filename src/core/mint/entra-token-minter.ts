import type { TokenCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import type { ServicePrincipal } from '../config';
import { raceDeadline } from '../deadline';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../errors';
import type { Clock } from '../policy';
import { systemClock } from '../policy';
import type { SecretSource, SecretValue } from '../secrets';
import { NO_TELEMETRY } from '../telemetry';
import type { Telemetry } from '../telemetry';
import type { CredentialFactory } from './credential-factory';
import { entraErrorCode, sanitizeEntraError } from './sanitize-entra-error';
import { TokenEndpointObserver } from './token-endpoint-observer';

export interface MintedToken {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresOnMs: number;
}

export interface TokenMinter {
  /** A token for the SP and scope valid at least `minValiditySeconds` from now. */
  getToken(sp: ServicePrincipal, scope: string, minValiditySeconds: number): Promise<MintedToken>;
}

export interface EntraTokenMinterOptions {
  readonly secrets: SecretSource;
  readonly createCredential: CredentialFactory;
  readonly clock?: Clock;
  readonly onOutcome?: (ok: boolean) => void;
  /** A cached token with less than this left is still served, and replaced in the background. */
  readonly refreshAheadMs?: number;
  /** Our own deadline on one token request (the credential may ignore its abort signal). */
  readonly deadlineMs?: number;
  /** Token cache hits and misses, a span per token request, and the `secret` stage. */
  readonly telemetry?: Telemetry;
}

interface CredentialEntry {
  readonly credential: TokenCredential;
  readonly version: string | undefined;
  readonly observer: TokenEndpointObserver;
}

/** The credential did not settle within our deadline; it may still finish in the background. Logs show its name only. */
class EntraDeadlineError extends Error {
  override readonly name = 'EntraDeadlineError';
}

/**
 * The credential computes expiry from `expires_in` and its own clock; the token's `exp` is
 * what the workspace will enforce, so the earlier of the two is what callers are told.
 */
function expiryClaimMs(token: string): number {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * One kept credential per SP, one cached token per (SP, scope), one upstream call in flight per
 * (SP, scope). When Entra ID answers `invalid_client` (secret rotated or expired), the latest
 * secret version is read once and, if it is a new version, the mint is retried with it (a
 * federated SP has no secret, hence never a new version: it is not retried).
 */
export class EntraTokenMinter implements TokenMinter {
  readonly #tokens = new Map<string, MintedToken>();
  readonly #inflight = new Map<string, Promise<MintedToken>>();
  readonly #credentials = new Map<string, Promise<CredentialEntry>>();
  /** Entra ID asked us to wait (429/5xx with Retry-After): no call for this key before then. */
  readonly #notBefore = new Map<string, number>();
  readonly #clock: Clock;
  readonly #telemetry: Telemetry;

  constructor(private readonly options: EntraTokenMinterOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
  }

  async getToken(sp: ServicePrincipal, scope: string, minValiditySeconds: number): Promise<MintedToken> {
    const key = `${sp.name}\u0000${scope}`;
    const fresh = (t: MintedToken | undefined): t is MintedToken => !!t && t.expiresOnMs - this.#clock.now() >= minValiditySeconds * 1000;
    const cached = this.#tokens.get(key);
    this.#telemetry.cache('sp_token', fresh(cached));
    if (fresh(cached)) {
      this.#refreshAhead(key, sp, scope, cached);
      return cached;
    }
    this.#honourRetryAfter(key);
    const shared = await this.#shared(key, () => this.#mint(sp, scope, key, false));
    if (fresh(shared)) return shared;
    // The credential's own cache handed back a token too close to expiry: start from a new credential.
    const forced = await this.#shared(key, () => this.#mint(sp, scope, key, true));
    if (fresh(forced)) return forced;
    throw new UpstreamRejectedError({ detail: `Entra ID issued a token for "${sp.name}" that is valid for less than the ${minValiditySeconds} s asked for.` });
  }

  /**
   * Entra ID tokens live 60-90 minutes; without this, callers late in that window would get tokens
   * with only their minimum validity left. The refresh is shared like any mint, and a failure
   * (Entra ID down) just keeps the cached token until it is no longer fresh enough.
   */
  #refreshAhead(key: string, sp: ServicePrincipal, scope: string, cached: MintedToken): void {
    if (this.#inflight.has(key) || cached.expiresOnMs - this.#clock.now() > (this.options.refreshAheadMs ?? 15 * 60_000)) return;
    this.#shared(key, () => this.#mint(sp, scope, key, true)).catch(() => undefined);
  }

  #honourRetryAfter(key: string): void {
    const waitMs = (this.#notBefore.get(key) ?? 0) - this.#clock.now();
    if (waitMs <= 0) return void this.#notBefore.delete(key);
    throw new UpstreamUnavailableError('Entra ID asked the service to wait before the next token request; no token was issued.', undefined, Math.ceil(waitMs / 1000));
  }

  #shared(key: string, run: () => Promise<MintedToken>): Promise<MintedToken> {
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = run().then((token) => (this.#tokens.set(key, token), token)).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #mint(sp: ServicePrincipal, scope: string, key: string, forceNewCredential: boolean): Promise<MintedToken> {
    let entry = await this.#credential(sp, forceNewCredential ? 'rebuild' : 'cached');
    try {
      return await this.#request(entry, scope);
    } catch (err) {
      if (entraErrorCode(err) !== 'invalid_client') throw this.#fail(err, sp, key, entry);
      const previous = entry.version;
      entry = await this.#credential(sp, 'latest');
      if (entry.version === previous) throw this.#fail(err, sp, key, entry);
      try {
        return await this.#request(entry, scope);
      } catch (retryErr) {
        throw this.#fail(retryErr, sp, key, entry);
      }
    }
  }

  async #request(entry: CredentialEntry, scope: string): Promise<MintedToken> {
    const ms = this.options.deadlineMs ?? 10_000;
    const pending = this.#telemetry.dependency('entra', 'token', () => entry.credential.getToken(scope, { abortSignal: AbortSignal.timeout(ms) }));
    const token = await raceDeadline(pending, ms, () => new EntraDeadlineError());
    if (!token) throw new Error('the credential returned no token');
    this.options.onOutcome?.(true);
    return { token: token.token, expiresOnMs: Math.min(token.expiresOnTimestamp, expiryClaimMs(token.token)) };
  }

  /**
   * After a throttle, a server error or a timeout the credential is dropped: MSAL keeps its own
   * throttle entry per client app (60 s by default when Entra ID sends no Retry-After), which
   * would make a Retry-After of ours a lie. Entra ID's own Retry-After is honoured here instead,
   * and is what the caller is told.
   */
  #fail(err: unknown, sp: ServicePrincipal, key: string, entry: CredentialEntry): Error {
    this.options.onOutcome?.(false);
    const throttled = entry.observer.throttled();
    if (!throttled && !(err instanceof EntraDeadlineError)) return sanitizeEntraError(err, sp.name);
    this.#forget(sp, entry);
    // Without a Retry-After this is "now": the next request may go out at once.
    const waitMs = throttled?.retryAfterMs ?? 0;
    this.#notBefore.set(key, this.#clock.now() + waitMs);
    const what = throttled ? `Entra ID answered HTTP ${throttled.status}` : 'Entra ID did not answer in time';
    return new UpstreamUnavailableError(`${what} for service principal "${sp.name}"; no token was issued.`, err, Math.max(1, Math.ceil(waitMs / 1000)));
  }

  #forget(sp: ServicePrincipal, entry: CredentialEntry): void {
    const current = this.#credentials.get(sp.name);
    void current?.then((e) => e === entry && this.#credentials.get(sp.name) === current && this.#credentials.delete(sp.name), () => undefined);
  }

  /** 'latest' re-reads Key Vault bypassing its cache; the SP's credential is replaced only by a different version. */
  #credential(sp: ServicePrincipal, how: 'cached' | 'rebuild' | 'latest'): Promise<CredentialEntry> {
    const existing = this.#credentials.get(sp.name);
    if (existing && how === 'cached') return existing;
    const next = this.#buildCredential(sp, how === 'latest', existing);
    this.#credentials.set(sp.name, next);
    next.catch(() => this.#credentials.get(sp.name) === next && this.#credentials.delete(sp.name));
    return next;
  }

  async #buildCredential(sp: ServicePrincipal, latest: boolean, existing: Promise<CredentialEntry> | undefined): Promise<CredentialEntry> {
    const secretName = sp.credential.kind === 'federated' ? undefined : sp.credential.name;
    const material: SecretValue | undefined =
      secretName === undefined ? undefined : await this.#telemetry.stage('secret', () => this.options.secrets.get(secretName, { latest }));
    const previous = await existing?.catch(() => undefined);
    if (latest && previous && material?.version === previous.version) return previous;
    const observer = new TokenEndpointObserver();
    return { credential: this.options.createCredential(sp, material, observer), version: material?.version, observer };
  }
}
