import type { TokenCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import type { ServicePrincipal } from '../config';
import { UpstreamRejectedError } from '../errors';
import type { Clock } from '../policy';
import { systemClock } from '../policy';
import type { SecretSource, SecretValue } from '../secrets';
import type { CredentialFactory } from './credential-factory';
import { entraErrorCode, sanitizeEntraError } from './sanitize-entra-error';

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
}

interface CredentialEntry {
  readonly credential: TokenCredential;
  readonly version: string | undefined;
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
 * secret version is read once and, if it is a new version, the mint is retried with it.
 */
export class EntraTokenMinter implements TokenMinter {
  readonly #tokens = new Map<string, MintedToken>();
  readonly #inflight = new Map<string, Promise<MintedToken>>();
  readonly #credentials = new Map<string, Promise<CredentialEntry>>();
  readonly #clock: Clock;

  constructor(private readonly options: EntraTokenMinterOptions) {
    this.#clock = options.clock ?? systemClock;
  }

  async getToken(sp: ServicePrincipal, scope: string, minValiditySeconds: number): Promise<MintedToken> {
    const key = `${sp.name}\u0000${scope}`;
    const fresh = (t: MintedToken | undefined): t is MintedToken => !!t && t.expiresOnMs - this.#clock.now() >= minValiditySeconds * 1000;
    const cached = this.#tokens.get(key);
    if (fresh(cached)) {
      this.#refreshAhead(key, sp, scope, cached);
      return cached;
    }
    const shared = await this.#shared(key, () => this.#mint(sp, scope, false));
    if (fresh(shared)) return shared;
    // The credential's own cache handed back a token too close to expiry: start from a new credential.
    const forced = await this.#shared(key, () => this.#mint(sp, scope, true));
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
    this.#shared(key, () => this.#mint(sp, scope, true)).catch(() => undefined);
  }

  #shared(key: string, run: () => Promise<MintedToken>): Promise<MintedToken> {
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = run().then((token) => (this.#tokens.set(key, token), token)).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #mint(sp: ServicePrincipal, scope: string, forceNewCredential: boolean): Promise<MintedToken> {
    let entry = await this.#credential(sp, forceNewCredential ? 'rebuild' : 'cached');
    try {
      return await this.#request(entry.credential, scope);
    } catch (err) {
      if (entraErrorCode(err) !== 'invalid_client' || sp.credential.kind === 'federated') throw this.#fail(err, sp);
      const previous = entry.version;
      entry = await this.#credential(sp, 'latest');
      if (entry.version === previous) throw this.#fail(err, sp);
      try {
        return await this.#request(entry.credential, scope);
      } catch (retryErr) {
        throw this.#fail(retryErr, sp);
      }
    }
  }

  async #request(credential: TokenCredential, scope: string): Promise<MintedToken> {
    const token = await credential.getToken(scope, { abortSignal: AbortSignal.timeout(15_000) });
    if (!token) throw new Error('the credential returned no token');
    this.options.onOutcome?.(true);
    return { token: token.token, expiresOnMs: Math.min(token.expiresOnTimestamp, expiryClaimMs(token.token)) };
  }

  #fail(err: unknown, sp: ServicePrincipal): Error {
    this.options.onOutcome?.(false);
    return sanitizeEntraError(err, sp.name);
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
    const material: SecretValue | undefined =
      sp.credential.kind === 'federated' ? undefined : await this.options.secrets.get(sp.credential.name, { latest });
    const previous = await existing?.catch(() => undefined);
    if (latest && previous && material?.version === previous.version) return previous;
    return { credential: this.options.createCredential(sp, material), version: material?.version };
  }
}
