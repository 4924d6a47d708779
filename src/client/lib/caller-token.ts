import type { Clock, TokenCredential } from '../types';
import { VendingClientError } from '../vending-client-error';
import { SingleFlightCache } from './single-flight-cache';

/** A caller token is renewed this long before it expires, so it never expires in flight. */
const RENEW_BEFORE_MS = 5 * 60_000;

interface CachedCallerToken {
  readonly token: string;
  readonly renewAtMs: number;
}

/**
 * Turns the caller's credential into a function that returns its bearer token for the vending
 * API. Tokens from a `TokenCredential` are cached (some credentials, like the Azure CLI one,
 * start a process per call); a `getCallerToken` function is the caller's to cache.
 */
export function callerTokenSource(options: { credential?: TokenCredential | undefined; getCallerToken?: (() => Promise<string>) | undefined; scope: string; clock: Clock }): () => Promise<string> {
  const { credential, getCallerToken, scope, clock } = options;
  if (getCallerToken) return () => guard(async () => nonEmpty(await getCallerToken()));
  if (!credential) throw new TypeError('VendingClient needs a credential or getCallerToken.');
  const cache = new SingleFlightCache<CachedCallerToken>();
  const load = async (): Promise<CachedCallerToken> => {
    const token = await credential.getToken(scope);
    if (!token) throw new Error('The credential returned no token.');
    const renewAtMs = Math.min(token.refreshAfterTimestamp ?? Infinity, token.expiresOnTimestamp - RENEW_BEFORE_MS);
    return { token: token.token, renewAtMs };
  };
  return async () => (await guard(() => cache.get('caller', (t) => clock.now() < t.renewAtMs, load))).token;
}

function nonEmpty(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0) throw new Error('getCallerToken returned no token.');
  return token;
}

async function guard<T>(get: () => Promise<T>): Promise<T> {
  try {
    return await get();
  } catch (cause) {
    // The cause stays attached for debugging but out of the message: credential errors can quote responses.
    throw new VendingClientError('Could not get a caller token for the vending API from the configured credential.', { code: 'credential_unavailable', cause });
  }
}
