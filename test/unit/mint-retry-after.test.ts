import { describe, expect, it } from 'vitest';
import { TokenEndpointObserver, parseRetryAfter } from '../../src/core/mint/token-endpoint-observer';

type Policy = TokenEndpointObserver['policy'];
type Request = Parameters<Policy['sendRequest']>[0];
type Response = Awaited<ReturnType<Policy['sendRequest']>>;

/** One answer of the token endpoint passing through the observer's pipeline policy. */
async function answer(observer: TokenEndpointObserver, status: number, retryAfter?: string): Promise<Response> {
  const response = { status, headers: { get: (name: string) => (name === 'retry-after' ? retryAfter : undefined) } } as unknown as Response;
  return observer.policy.sendRequest({} as Request, () => Promise.resolve(response));
}

describe('parseRetryAfter (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');

  it('reads delta-seconds, surrounding blanks allowed, in milliseconds', () => {
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(' 12 ', now)).toBe(12_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1234567', now)).toBe(1_234_567_000);
  });

  it('reads an HTTP date as the time left until it, never negative', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
  });

  it('absent or unreadable is undefined; digits with anything else are not delta-seconds', () => {
    for (const value of [undefined, null, '', 'soon', '7abc', 'abc7', '12345678']) expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('TokenEndpointObserver', () => {
  it('reports the last answer only when it is a throttle (429) or a server error (5xx), with its Retry-After', async () => {
    const observer = new TokenEndpointObserver();
    expect(observer.throttled()).toBeUndefined();
    const response = await answer(observer, 429, '7');
    expect(response.status).toBe(429); // the answer passes through unchanged
    expect(observer.throttled()).toEqual({ status: 429, retryAfterMs: 7_000 });
    await answer(observer, 500);
    expect(observer.throttled()).toEqual({ status: 500, retryAfterMs: undefined });
    await answer(observer, 503, '2');
    expect(observer.throttled()).toEqual({ status: 503, retryAfterMs: 2_000 });
    // The last answer counts: a retry that succeeded, or a refusal, is not a throttle.
    for (const status of [200, 400, 401, 428, 430, 499]) {
      await answer(observer, status, '9');
      expect(observer.throttled()).toBeUndefined();
    }
  });
});
