import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Clock } from '../policy';
import { systemClock } from '../policy';
import { raceDeadline } from '../deadline';
import { NO_TELEMETRY } from '../telemetry';
import type { Telemetry } from '../telemetry';
import { sanitizeVaultError } from './sanitize-vault-error';
import type { SecretSource, SecretValue } from './secret-source';

export interface KeyVaultSecretSourceOptions {
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  /** Off only for local vaults whose host is not *.vault.azure.net. */
  readonly challengeVerification: boolean;
  readonly ttlMs?: number;
  readonly clock?: Clock;
  readonly onOutcome?: (ok: boolean) => void;
  /** Our own deadline on one read (raced, not only a signal handed to the SDK). */
  readonly deadlineMs?: number;
  /** Cache hits and misses, and a span per read from the vault. */
  readonly telemetry?: Telemetry;
}

interface Entry {
  readonly secret: SecretValue;
  readonly fetchedAt: number;
}

/**
 * Secrets cached in memory with a TTL. A failed refresh serves the last good value (so a Key
 * Vault outage does not stop vending while secrets are cached); concurrent reads of one name
 * share one request.
 */
export class KeyVaultSecretSource implements SecretSource {
  readonly #client: SecretClient;
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<SecretValue>>();
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #onOutcome: (ok: boolean) => void;
  readonly #deadlineMs: number;
  readonly #telemetry: Telemetry;

  constructor(options: KeyVaultSecretSourceOptions) {
    this.#client = new SecretClient(options.vaultUrl, options.credential, {
      disableChallengeResourceVerification: !options.challengeVerification,
      retryOptions: { maxRetries: 2, retryDelayInMs: 250, maxRetryDelayInMs: 2_000 },
    });
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#onOutcome = options.onOutcome ?? (() => undefined);
    this.#deadlineMs = options.deadlineMs ?? 8_000;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
  }

  async get(name: string, options?: { readonly latest?: boolean }): Promise<SecretValue> {
    const cached = this.#cache.get(name);
    const fresh = cached && !options?.latest && this.#clock.now() - cached.fetchedAt < this.#ttlMs;
    this.#telemetry.cache('secret', !!fresh);
    if (fresh) return cached.secret;
    try {
      return await this.#read(name);
    } catch (err) {
      // Stale beats nothing, except when the caller asked for the latest version on purpose.
      if (cached && !options?.latest) return cached.secret;
      throw err;
    }
  }

  #read(name: string): Promise<SecretValue> {
    let pending = this.#inflight.get(name);
    if (!pending) {
      pending = this.#fetch(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, pending);
    }
    return pending;
  }

  async #fetch(name: string): Promise<SecretValue> {
    try {
      const ms = this.#deadlineMs;
      const reading = this.#telemetry.dependency('keyvault', 'get secret', () => this.#client.getSecret(name, { abortSignal: AbortSignal.timeout(ms) }));
      const found = await raceDeadline(reading, ms, () => Object.assign(new Error(`no answer within ${ms} ms`), { name: 'TimeoutError' }));
      if (!found.value || found.properties.enabled === false) throw Object.assign(new Error('secret disabled or empty'), { statusCode: 404 });
      const secret = { value: found.value, version: found.properties.version ?? '', contentType: found.properties.contentType };
      this.#cache.set(name, { secret, fetchedAt: this.#clock.now() });
      this.#onOutcome(true);
      return secret;
    } catch (err) {
      this.#onOutcome(false);
      throw sanitizeVaultError(err);
    }
  }
}
