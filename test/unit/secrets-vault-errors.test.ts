import { describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../../src/core/errors';
import { sanitizeVaultError } from '../../src/core/secrets';

// Key Vault failures that are not a refusal: the caller is told "no answer in time" or
// "unreachable", and to retry after what Key Vault asked for (5 s when it asked for nothing).
const withRetryAfter = (statusCode: number, value: string | undefined): Error =>
  Object.assign(new Error('GET https://kv.vault.azure.net/secrets/sp-secret'), { statusCode, response: { headers: { get: (name: string) => (name === 'retry-after' ? value : undefined) } } });

describe('sanitizeVaultError: deadlines and Retry-After', () => {
  it.each([['TimeoutError'], ['AbortError']])('%s (our own deadline) is "no answer in time"', (name) => {
    const err = sanitizeVaultError(Object.assign(new Error('The operation was aborted due to timeout'), { name }));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Key Vault request failed (no answer in time); no token was issued.');
    expect(err.retryAfterSeconds).toBe(5);
  });

  it.each<[string, unknown]>([['a TypeError', new TypeError('fetch failed')], ['null', null], ['undefined', undefined], ['a string', 'boom']])('%s is "unreachable"', (_name, thrown) => {
    const err = sanitizeVaultError(thrown);
    expect(err.detail).toBe('Key Vault request failed (unreachable); no token was issued.');
    expect(err.status).toBe(503);
    expect(err.retryAfterSeconds).toBe(5);
  });

  it.each<[string | undefined, number]>([
    ['30', 30],
    ['0', 1],
    [undefined, 5],
    ['soon', 5],
  ])('passes on Key Vault\'s Retry-After %j as %i s', (value, seconds) => {
    const err = sanitizeVaultError(withRetryAfter(429, value));
    expect(err.detail).toBe('Key Vault request failed (HTTP 429); no token was issued.');
    expect(err.retryAfterSeconds).toBe(seconds);
  });

  it('reads a Retry-After date, rounded up to whole seconds', () => {
    const at = new Date(Date.now() + 90_000).toUTCString();
    const seconds = sanitizeVaultError(withRetryAfter(503, at)).retryAfterSeconds as number;
    expect(seconds).toBeGreaterThanOrEqual(88);
    expect(seconds).toBeLessThanOrEqual(90);
  });

  it('a response without headers is told 5 s', () => {
    expect(sanitizeVaultError(Object.assign(new Error('x'), { statusCode: 503, response: {} })).retryAfterSeconds).toBe(5);
  });

  it('headers that cannot be asked for a value (no get) are told 5 s, not a crash', () => {
    const err = sanitizeVaultError(Object.assign(new Error('x'), { statusCode: 503, response: { headers: { 'retry-after': '30' } } }));
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.detail).toBe('Key Vault request failed (HTTP 503); no token was issued.');
    expect(err.retryAfterSeconds).toBe(5);
  });
});
