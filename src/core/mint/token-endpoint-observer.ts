import type { ClientSecretCredentialOptions } from '@azure/identity';

type PipelinePolicy = NonNullable<ClientSecretCredentialOptions['additionalPolicies']>[number]['policy'];

export interface ObservedAnswer {
  readonly status: number;
  /** Entra ID's own Retry-After, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;
}

/**
 * Sees every answer of the token endpoint to one credential (a pipeline policy, per retry), so
 * the minter can read Entra ID's status and Retry-After: the credential's errors do not carry
 * them. Nothing of the request or the body is kept.
 */
export class TokenEndpointObserver {
  #last: ObservedAnswer | undefined;

  readonly policy: PipelinePolicy = {
    // Stryker disable next-line StringLiteral: the name only labels the policy; nothing looks it up or removes it by name.
    name: 'dbxVendTokenEndpointObserver',
    sendRequest: async (request, next) => {
      const response = await next(request);
      this.#last = { status: response.status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()) };
      return response;
    },
  };

  /** The last answer, if it was a throttle or a server error (what MSAL would keep refusing on). */
  throttled(): ObservedAnswer | undefined {
    const last = this.#last;
    return last && (last.status === 429 || last.status >= 500) ? last : undefined;
  }
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  // Number() ignores the blanks the test allows around the digits.
  if (/^\d{1,7}$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
