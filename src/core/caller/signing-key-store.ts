import { webcrypto } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors } from 'jose';
import type { JSONWebKeySet, JWTHeaderParameters, FlattenedJWSInput } from 'jose';
import { UpstreamUnavailableError } from '../errors';
import type { Clock } from '../policy';
import { systemClock } from '../policy';

/** Keys imported ahead of the first caller (an Entra ID tenant publishes a handful). */
const MAX_WARM_KEYS = 16;

type KeyResolver = ReturnType<typeof createLocalJWKSet>;
type ResolvedKey = Awaited<ReturnType<KeyResolver>>;

export interface SigningKeyStoreOptions {
  /** `{authority}/{tenant}/v2.0/.well-known/openid-configuration` */
  readonly discoveryUrl: string;
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
  /** An unknown `kid` triggers at most one refresh per this interval. */
  readonly unknownKidCooldownMs?: number;
  /** Keys older than this are refreshed on next use (a failed refresh keeps them). */
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
}

/**
 * The tenant's signing keys, cached. jose's remote key set drops its keys when a refresh
 * fails; this one keeps the last good set, so an Entra ID outage does not turn every caller
 * away, and it bounds refreshes caused by unknown `kid`s (which anyone can put in a token).
 */
export class SigningKeyStore {
  readonly #options: Required<Omit<SigningKeyStoreOptions, 'fetch'>> & { fetch: typeof fetch };
  #resolver: KeyResolver | undefined;
  #jwksUri: string | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;
  #generation = 0;
  #keySet: JSONWebKeySet = { keys: [] };

  constructor(options: SigningKeyStoreOptions) {
    this.#options = {
      unknownKidCooldownMs: 5 * 60_000,
      maxAgeMs: 6 * 60 * 60_000,
      timeoutMs: 5_000,
      clock: systemClock,
      ...options,
      fetch: options.fetch ?? fetch,
    };
  }

  /** The key set each resolved key came from (a new set is a new generation). */
  readonly #generations = new WeakMap<object, number>();

  /**
   * The generation of the key set a key handed out by `resolve` belongs to, compared with
   * `generationAt` (the current one): what was checked against an older set is checked again.
   */
  generationOf(key: object): number | undefined {
    return this.#generations.get(key);
  }

  /**
   * The current key set's generation, or undefined once the set is due for a refresh (past its
   * maximum age, or never loaded): then nothing checked earlier is taken on trust, and the next
   * check goes through `resolve`, which refreshes.
   */
  generationAt(nowMs: number): number | undefined {
    // Never loaded: #fetchedAt is -Infinity, so the set counts as past its age.
    return nowMs - this.#fetchedAt <= this.#options.maxAgeMs ? this.#generation : undefined;
  }

  /** The jose key resolver for jwtVerify. */
  readonly resolve = async (header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey> => {
    const now = this.#options.clock.now();
    // Never loaded (#fetchedAt is -Infinity) or past its age: load; a failure keeps a loaded set.
    if (now - this.#fetchedAt > this.#options.maxAgeMs) await this.#refresh();
    try {
      return await this.#resolveFromCurrent(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || now - this.#lastAttempt < this.#options.unknownKidCooldownMs) throw err;
      await this.#refresh();
      return this.#resolveFromCurrent(header, token);
    }
  };

  async #resolveFromCurrent(header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey> {
    // Read together, before any await: the key comes from exactly this generation's set.
    const resolver = this.#resolver as KeyResolver;
    const generation = this.#generation;
    const key = await resolver(header, token);
    this.#generations.set(key, generation);
    return key;
  }

  /**
   * Start-up: discovery and the key set fetched before the first caller needs them (a cold first
   * vend then checks its caller locally). Never rejects: a failure leaves the store as it was, so
   * the first request fetches on demand with its own deadline (and answers 503 if it cannot).
   */
  prefetch(): Promise<void> {
    if (this.#resolver) return Promise.resolve();
    return this.#refresh().then(() => this.#importAll()).catch(() => undefined);
  }

  /**
   * Single-flight: concurrent cold requests share one discovery + JWKS fetch. A failure is the
   * caller's only while no key set was ever loaded; otherwise the last good set stays in use.
   */
  async #refresh(): Promise<void> {
    this.#inflight ??= this.#load().finally(() => (this.#inflight = undefined));
    try {
      await this.#inflight;
    } catch (err) {
      if (!this.#resolver) {
        throw new UpstreamUnavailableError('The caller token cannot be checked: the signing keys of Entra ID are unavailable.', err);
      }
    }
  }

  async #load(): Promise<void> {
    this.#lastAttempt = this.#options.clock.now();
    this.#jwksUri ??= await this.#discover();
    const jwks = await this.#getJson<JSONWebKeySet>(this.#jwksUri);
    // jose refuses a malformed set; an empty one it would take, and then refuse every caller.
    const resolver = createLocalJWKSet(jwks);
    if (jwks.keys.length === 0) throw new Error('empty key set');
    this.#resolver = resolver;
    this.#keySet = jwks;
    // Stryker disable next-line AssignmentOperator: generations are only compared for equality; -= 1 also yields a new value each load
    this.#generation += 1;
    this.#fetchedAt = this.#options.clock.now();
  }

  /**
   * The keys imported now rather than by the first caller (jose keeps each imported key), and one
   * throwaway signature check: the first check in a process pays WebCrypto's set-up (tens of ms).
   */
  async #importAll(): Promise<void> {
    const resolver = this.#resolver as KeyResolver;
    let warmed = false;
    for (const jwk of this.#keySet.keys.slice(0, MAX_WARM_KEYS)) {
      // A key that is not an RS256 key with a kid of its own matches nothing here, and is skipped.
      const key = await resolver({ alg: 'RS256', kid: jwk.kid }).catch(() => undefined);
      if (warmed || key === undefined) continue;
      warmed = true;
      // Answers false (a throwaway signature); a rejection would end the warm-up, caught by prefetch.
      await webcrypto.subtle.verify('RSASSA-PKCS1-v1_5', key, new Uint8Array(256), new Uint8Array(1));
    }
  }

  async #discover(): Promise<string> {
    const doc = await this.#getJson<{ jwks_uri?: unknown }>(this.#options.discoveryUrl);
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) throw new Error('discovery document has no https jwks_uri');
    return doc.jwks_uri;
  }

  async #getJson<T>(url: string): Promise<T> {
    const res = await this.#options.fetch(url, { signal: AbortSignal.timeout(this.#options.timeoutMs), redirect: 'error' });
    if (!res.ok) throw new Error(`signing key request failed with HTTP ${res.status}`);
    return (await res.json()) as T;
  }
}
