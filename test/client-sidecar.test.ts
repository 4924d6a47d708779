// The metadata-service pieces of dbx-vend at the unit level: the request checks, the loopback
// guard, and the token keeper's fallback to its cache when a refresh fails.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ProblemCode } from '../src/core/errors';
import type { ServiceProblemCode } from '../src/client';
import { checkMetadataRequest, isLoopbackAddress } from '../src/client/sidecar/metadata-protocol';
import { TokenKeeper } from '../src/client/sidecar/token-keeper';
import { VendingClientError } from '../src/client';

const session = { path: '/6f1c0c9e-2f57-4a5e-9a51-0d1f6f0e7d11', host: 'https://adb-1234567890123456.7.azuredatabricks.net' };
const good = { 'x-databricks-metadata-version': '1', 'x-databricks-host': session.host };

describe('checkMetadataRequest', () => {
  it('admits GET at the session path with version 1 and the same host', () => {
    expect(checkMetadataRequest({ method: 'GET', url: session.path, headers: good }, session)).toBeUndefined();
    expect(checkMetadataRequest({ method: 'GET', url: session.path, headers: { ...good, 'x-databricks-host': `${session.host.toUpperCase()}:443/` } }, session)).toBeUndefined();
  });

  it('refuses a wrong path first (404), then method (405), version (400) and host (404)', () => {
    const status = (method: string, url: string, headers: Record<string, string | string[]>): number | undefined => checkMetadataRequest({ method, url, headers }, session)?.status;
    expect(status('POST', '/other', {})).toBe(404);
    expect(status('GET', `${session.path}/`, good)).toBe(404);
    expect(status('PUT', session.path, good)).toBe(405);
    expect(checkMetadataRequest({ method: 'PUT', url: session.path, headers: good }, session)?.headers).toEqual({ Allow: 'GET' });
    expect(status('GET', session.path, { 'x-databricks-host': session.host })).toBe(400);
    expect(status('GET', session.path, { ...good, 'x-databricks-metadata-version': ['1', '1'] })).toBe(400);
    expect(status('GET', session.path, { ...good, 'x-databricks-host': 'http://adb-1234567890123456.7.azuredatabricks.net' })).toBe(404);
    expect(status('GET', session.path, { ...good, 'x-databricks-host': 'not a url' })).toBe(404);
  });
});

describe('isLoopbackAddress', () => {
  it('accepts 127/8 and ::1 (also IPv4-mapped), nothing else', () => {
    for (const a of ['127.0.0.1', '127.10.0.3', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of [undefined, '', '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '0.0.0.0', '128.0.0.1', '127.0.0.1.evil']) expect(isLoopbackAddress(a), String(a)).toBe(false);
  });
});

describe('TokenKeeper', () => {
  const failure = new VendingClientError('upstream_unavailable: Entra ID is unavailable.', { code: 'upstream_unavailable', status: 503 });

  type Answer = () => Promise<{ access_token: string; expires_on: number }>;
  function keeper(answers: Answer[], nowSeconds: { value: number }): { keeper: TokenKeeper; log: string[] } {
    const log: string[] = [];
    let i = 0;
    return { log, keeper: new TokenKeeper({ fetch: () => (answers[i++] ?? (() => Promise.reject(new Error('no more answers'))))(), nowMs: () => nowSeconds.value * 1000, log: (l) => log.push(l) }) };
  }

  it('serves the cached token while a refresh fails and it has more than the SDK margin left, then fails', async () => {
    const now = { value: 1_000 };
    const a = { access_token: 'token-a', expires_on: 1_300 };
    const { keeper: k, log } = keeper([() => Promise.resolve(a), () => Promise.reject(failure), () => Promise.reject(failure)], now);
    expect(await k.current()).toBe(a);
    now.value = 1_200;
    expect(await k.current()).toBe(a);
    expect(log[1]).toBe('dbx-vend: refreshing the token failed (upstream_unavailable); serving the cached token, valid 100 s more.\n');
    now.value = 1_260;
    await expect(k.current()).rejects.toBe(failure);
    expect(log[2]).toBe('dbx-vend: refreshing the token failed (upstream_unavailable); no valid token to serve.\n');
    for (const line of log) expect(line).not.toContain('token-a');
  });

  it('says when it serves a new token, not when the same one comes back', async () => {
    const now = { value: 1_000 };
    const a = { access_token: 'token-a', expires_on: 4_600 };
    const b = { access_token: 'token-b', expires_on: 8_200 };
    const { keeper: k, log } = keeper([() => Promise.resolve(a), () => Promise.resolve(a), () => Promise.resolve(b)], now);
    await k.current();
    await k.current();
    expect(await k.current()).toBe(b);
    expect(log).toEqual([`dbx-vend: serving a new token, valid until ${new Date(4_600_000).toISOString()}.\n`, `dbx-vend: serving a new token, valid until ${new Date(8_200_000).toISOString()}.\n`]);
  });

  it('fails without a cached token', async () => {
    const { keeper: k } = keeper([() => Promise.reject(failure)], { value: 0 });
    await expect(k.current()).rejects.toBe(failure);
  });
});

describe('the client package', () => {
  it('lists exactly the service problem codes without importing the service', () => {
    expectTypeOf<ServiceProblemCode>().toEqualTypeOf<ProblemCode>();
  });
});
