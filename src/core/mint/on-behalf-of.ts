import { OnBehalfOfCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { UpstreamRejectedError, UpstreamUnavailableError, isVendingError } from '../errors';
import type { VendingError } from '../errors';
import type { CallerIdentity, Clock } from '../policy';
import { systemClock } from '../policy';
import type { MintedToken } from './entra-token-minter';
import type { AuthorityMetadataCache } from './authority-metadata-cache';
import { entraCredentialOptions, exchangeAssertion } from './credential-factory';
import { readEntraFailure } from './sanitize-entra-error';
import { KeyedTokenCache } from './token-cache';
import { TokenEndpointObserver } from './token-endpoint-observer';

/** mode user: the delegated caller's own token for a resource, through the on-behalf-of flow. */
export interface OnBehalfOfMinter {
  getUserToken(caller: CallerIdentity, userAssertion: string, scope: string, minValiditySeconds: number): Promise<MintedToken>;
}

export interface OnBehalfOfOptions {
  readonly tenantId: string;
  readonly authorityHost: string;
  /** The vending API's own app registration: the audience of the caller's token. */
  readonly apiClientId: string;
  /** The app's managed identity: its `api://AzureADTokenExchange` token is the client assertion (no secret). */
  readonly appCredential: TokenCredential;
  readonly clock?: Clock;
  readonly deadlineMs?: number;
  /** Shared with the app's other credentials: a credential is built per user, its authority discovered once. */
  readonly authorityMetadata?: AuthorityMetadataCache;
}

const OBO_DEADLINE_MS = 15_000;

/**
 * Each user's token is cached under that user's tenant and object id only, so one user's token
 * is never handed to another; a credential is built per call around the caller's own assertion.
 *
 * Retry-After tells the truth, as for the SPs' tokens: after a 429/5xx, Entra ID's own
 * Retry-After, and no on-behalf-of request before then (Entra ID throttles the vending API's
 * app, whoever the user); without one, or after no answer in time, 1 s. The credential (and its
 * MSAL throttle entry) is built per call, so nothing of a failed attempt outlasts that.
 */
export function createOnBehalfOfMinter(options: OnBehalfOfOptions): OnBehalfOfMinter {
  const clock = options.clock ?? systemClock;
  const cache = new KeyedTokenCache<MintedToken>(clock);
  let notBefore = 0;
  const getAssertion = (): Promise<string> => exchangeAssertion(options.appCredential);
  return {
    getUserToken(caller, userAssertion, scope, minValiditySeconds) {
      const key = [caller.tenantId, caller.objectId, scope].join('\u0000');
      return cache.get(key, minValiditySeconds, async () => {
        const waitMs = notBefore - clock.now();
        if (waitMs > 0) throw new UpstreamUnavailableError('Entra ID asked the service to wait before the next on-behalf-of request; no token was issued.', undefined, Math.ceil(waitMs / 1000));
        const observer = new TokenEndpointObserver();
        // disableInstanceDiscovery is honoured by the credential (its options reach MSAL) but not in
        // its option type; a non-literal object carries it past the excess-property check.
        const credentialOptions = {
          tenantId: options.tenantId,
          clientId: options.apiClientId,
          getAssertion,
          userAssertionToken: userAssertion,
          ...entraCredentialOptions(options.authorityHost, options.authorityMetadata, observer),
        };
        const credential = new OnBehalfOfCredential(credentialOptions);
        const token = await withDeadline(options.deadlineMs ?? OBO_DEADLINE_MS, (signal) => credential.getToken(scope, { abortSignal: signal }), (retryAfterMs) => {
          notBefore = clock.now() + retryAfterMs;
        }, observer);
        return { token: token.token, expiresOnMs: token.expiresOnTimestamp };
      });
    },
  };
}

async function withDeadline<T>(ms: number, run: (signal: AbortSignal) => Promise<T>, onWait: (ms: number) => void, observer: TokenEndpointObserver): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UpstreamUnavailableError(`Entra ID did not answer the on-behalf-of request within ${ms / 1000} s; no token was issued.`, undefined, 1));
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } catch (err) {
    const throttled = observer.throttled();
    if (throttled?.retryAfterMs) onWait(throttled.retryAfterMs);
    throw sanitizeOnBehalfOfError(err, throttled?.retryAfterMs);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Only the OAuth code and AADSTS number pass, with what the operators (or the user) must do.
 * Unavailable: Retry-After is Entra ID's own (`retryAfterMs`, seen by the observer) or 1 s.
 */
export function sanitizeOnBehalfOfError(err: unknown, retryAfterMs?: number): VendingError {
  if (isVendingError(err)) return err;
  const { code, aadsts } = readEntraFailure(err);
  if (code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client' || code === 'invalid_scope' || code === 'invalid_request') {
    return new UpstreamRejectedError({
      detail:
        `Entra ID refused the on-behalf-of exchange (${code}${aadsts ? `, ${aadsts}` : ''}): the operators should check that the vending API's ` +
        'app registration has a federated credential trusting the app\'s managed identity and the delegated permission ' +
        'AzureDatabricks user_impersonation with admin consent.',
      cause: err,
    });
  }
  return new UpstreamUnavailableError('Entra ID could not be reached for an on-behalf-of token; no token was issued.', err, Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000)));
}
