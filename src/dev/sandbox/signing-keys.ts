import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JSONWebKeySet, JWK } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function createSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const kid = randomBytes(16).toString('base64url');
  return { kid, privateKey, publicJwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, use: 'sig', alg: 'RS256' } };
}

/**
 * The authority's RS256 keys. The first key signs; every key is published, so a token signed by a
 * key that was rotated out but not retired still verifies — as with Entra ID's overlapping keys.
 */
export class SigningKeyRing {
  private keys: SigningKey[];

  private constructor(first: SigningKey) {
    this.keys = [first];
  }

  static async create(): Promise<SigningKeyRing> {
    return new SigningKeyRing(await createSigningKey());
  }

  get current(): SigningKey {
    return this.keys[0];
  }

  /** Makes a new key current; the previous ones stay published unless `retirePrevious`. Returns the new kid. */
  async rotate(retirePrevious = false): Promise<string> {
    const next = await createSigningKey();
    this.keys = retirePrevious ? [next] : [next, ...this.keys];
    return next.kid;
  }

  jwks(): JSONWebKeySet {
    return { keys: this.keys.map((key) => ({ ...key.publicJwk })) };
  }

  /** A verifier key set over the keys published right now. */
  localKeySet(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet(this.jwks());
  }
}
