import { createHash } from 'node:crypto';
import type { CallerIdentity } from '../policy';

interface Entry {
  readonly identity: CallerIdentity;
  /** The token's `exp`, in ms: the entry is never used at or past it. */
  readonly expiresAtMs: number;
  /** The signing key set the signature was checked against. */
  readonly keyGeneration: number;
}

/**
 * Callers present the same token for its whole lifetime (about an hour from Entra ID), and its
 * RS256 signature check (WebCrypto, inside jose) was the largest CPU cost of a warm vend outside
 * the audit write. A token that passed every check is remembered here, and the same token is
 * accepted again without a second check while all of these hold:
 *
 * - the key is the SHA-256 of the whole compact token: only the very same bytes match, and the
 *   cache holds no token, only its digest and the identity drawn from it;
 * - never at or past the token's `exp` (no clock tolerance here: past `exp` the token goes back
 *   through jose, which applies the tolerance and refuses it beyond that);
 * - only against the signing key set it was checked with: any refresh of the keys (rotation, an
 *   unknown `kid`) retires every entry;
 * - bounded: past `maxEntries` the oldest entry goes first. Refusals are never cached.
 *
 * Audience, issuer, tenant and algorithm checks depend on the token and the configuration only,
 * both fixed for the entry's life; the rate limit is applied per request after this, as before.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;

  constructor(options: { readonly maxEntries?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, nowMs: number, keyGeneration: number): CallerIdentity | undefined {
    const digest = digestOf(token);
    const entry = this.#entries.get(digest);
    if (!entry) return undefined;
    if (nowMs >= entry.expiresAtMs || entry.keyGeneration !== keyGeneration) {
      this.#entries.delete(digest);
      return undefined;
    }
    return entry.identity;
  }

  set(token: string, identity: CallerIdentity, expiresAtMs: number, nowMs: number, keyGeneration: number): void {
    if (!Number.isFinite(expiresAtMs) || expiresAtMs <= nowMs) return;
    const digest = digestOf(token);
    this.#entries.delete(digest);
    // Map order is insertion order: the first keys are the oldest.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(digest, { identity: Object.freeze({ ...identity, roles: Object.freeze([...identity.roles]) }), expiresAtMs, keyGeneration });
  }
}

function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
