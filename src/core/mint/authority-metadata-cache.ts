import type { ClientSecretCredentialOptions } from '@azure/identity';
import type { Clock } from '../policy';
import { systemClock } from '../policy';

type PipelinePolicy = NonNullable<ClientSecretCredentialOptions['additionalPolicies']>[number]['policy'];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

/** How long an answer is reused: MSAL keeps the metadata it fetched itself for a day. */
export const METADATA_TTL_MS = 24 * 60 * 60 * 1000;
const METADATA_PATH = '/.well-known/openid-configuration';

interface Entry {
  readonly atMs: number;
  readonly answer: Promise<PipelineResponse | undefined>;
}

/**
 * Each credential's MSAL client discovers its authority's endpoints (a GET of the authority's
 * OpenID configuration) before its first token, so every service principal's first token cost a
 * round trip to Entra ID ahead of the token request, on the cold vend that waits for it. For the
 * clouds MSAL lists (login.microsoftonline.com and the sovereign ones) it uses built-in metadata
 * and sends nothing; for any other authority host (Azure Stack Hub, a cloud it does not list, the
 * local sandbox) every credential asked again.
 *
 * One instance is shared by the app's identity and every SP's credential, as a pipeline policy:
 * the first successful answer for a URL (the app's own, fetched at start) answers later requests
 * for the same URL for `METADATA_TTL_MS`; requests at the same time share one fetch. It holds
 * public metadata only: any other request, and any answer other than a 200 with a body, passes
 * through untouched and is not kept.
 */
export class AuthorityMetadataCache {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  readonly policy: PipelinePolicy = {
    // Stryker disable next-line StringLiteral: the name only labels the policy; nothing looks it up or removes it by name.
    name: 'dbxVendAuthorityMetadataCache',
    sendRequest: async (request, next) => {
      if (request.method !== 'GET' || !new URL(request.url).pathname.endsWith(METADATA_PATH)) return next(request);
      const now = this.#clock.now();
      const kept = this.#entries.get(request.url);
      const reusable = kept && now - kept.atMs < METADATA_TTL_MS ? await kept.answer : undefined;
      if (reusable) return { ...reusable, request };
      // A failed or unusable answer is kept as none: the next request finds it and asks again.
      const answer = next(request);
      this.#entries.set(request.url, { atMs: now, answer: answer.then(keepable, () => undefined) });
      return answer;
    },
  };
}

function keepable(response: PipelineResponse): PipelineResponse | undefined {
  return response.status === 200 && typeof response.bodyAsText === 'string' ? response : undefined;
}
