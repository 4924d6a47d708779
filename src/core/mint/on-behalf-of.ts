import { OnBehalfOfCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { isMicrosoftAuthority } from '../config';
import { UpstreamRejectedError, UpstreamUnavailableError, isVendingError } from '../errors';
import type { VendingError } from '../errors';
import type { CallerIdentity, Clock } from '../policy';
import { systemClock } from '../policy';
import type { MintedToken } from './entra-token-minter';
import { readEntraFailure } from './sanitize-entra-error';
import { KeyedTokenCache } from './token-cache';

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
}

const OBO_DEADLINE_MS = 15_000;

/**
 * Each user's token is cached under that user's tenant and object id only, so one user's token
 * is never handed to another; a credential is built per call around the caller's own assertion.
 */
export function createOnBehalfOfMinter(options: OnBehalfOfOptions): OnBehalfOfMinter {
  const cache = new KeyedTokenCache<MintedToken>(options.clock ?? systemClock);
  const getAssertion = async (): Promise<string> => {
    const token = await options.appCredential.getToken('api://AzureADTokenExchange/.default');
    if (!token) throw new Error('the app identity returned no token for api://AzureADTokenExchange');
    return token.token;
  };
  return {
    getUserToken(caller, userAssertion, scope, minValiditySeconds) {
      const key = [caller.tenantId, caller.objectId, scope].join('\u0000');
      return cache.get(key, minValiditySeconds, async () => {
        // disableInstanceDiscovery is honoured by the credential (its options reach MSAL) but not in
        // its option type; a non-literal object carries it past the excess-property check.
        const credentialOptions = {
          tenantId: options.tenantId,
          clientId: options.apiClientId,
          getAssertion,
          userAssertionToken: userAssertion,
          authorityHost: options.authorityHost,
          disableInstanceDiscovery: !isMicrosoftAuthority(options.authorityHost),
        };
        const credential = new OnBehalfOfCredential(credentialOptions);
        const token = await withDeadline(options.deadlineMs ?? OBO_DEADLINE_MS, (signal) => credential.getToken(scope, { abortSignal: signal }));
        if (!token) throw new UpstreamUnavailableError('Entra ID returned no on-behalf-of token; no token was issued.');
        return { token: token.token, expiresOnMs: token.expiresOnTimestamp };
      });
    },
  };
}

async function withDeadline<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UpstreamUnavailableError(`Entra ID did not answer the on-behalf-of request within ${ms / 1000} s; no token was issued.`));
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } catch (err) {
    throw sanitizeOnBehalfOfError(err);
  } finally {
    clearTimeout(timer);
  }
}

/** Only the OAuth code and AADSTS number pass, with what the operators (or the user) must do. */
export function sanitizeOnBehalfOfError(err: unknown): VendingError {
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
  return new UpstreamUnavailableError('Entra ID could not be reached for an on-behalf-of token; no token was issued.', err);
}
