import { beforeEach, describe, expect, it } from 'vitest';
import type { AuthorityMetadataCache as Cache } from '../../src/core/mint/authority-metadata-cache';
import { loadAnew } from '../support/load-anew';

// Loaded anew for each test: the path it answers for and its lifetime are module constants.
let AuthorityMetadataCache: typeof Cache;
let METADATA_TTL_MS: number;
beforeEach(async () => {
  ({ AuthorityMetadataCache, METADATA_TTL_MS } = await loadAnew(() => import('../../src/core/mint/authority-metadata-cache.js')));
});

type Policy = Cache['policy'];
type Request = Parameters<Policy['sendRequest']>[0];
type Response = Awaited<ReturnType<Policy['sendRequest']>>;

const TENANT_A = 'https://login.example.test/aaaa/v2.0/.well-known/openid-configuration';
const TENANT_B = 'https://login.example.test/bbbb/v2.0/.well-known/openid-configuration';
const TOKEN = 'https://login.example.test/aaaa/oauth2/v2.0/token';

const request = (url: string, method = 'GET'): Request => ({ url, method, headers: new Map() }) as unknown as Request;
const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n], toJSON: () => h }) as unknown as Response['headers'];

/** The next policy: answers what each call asks for and counts the calls per URL. */
function upstream(answer: (req: Request, n: number) => Promise<Response> | Response = (req, n) => ({ request: req, status: 200, headers: headers({ 'x-n': String(n) }), bodyAsText: `{"n":${n}}` })) {
  const calls: string[] = [];
  const next = async (req: Request): Promise<Response> => {
    calls.push(`${req.method} ${req.url}`);
    return answer(req, calls.length);
  };
  return { calls, next };
}

function clockAt(ms: number) {
  const c = { t: ms, now: () => c.t };
  return c;
}

describe('AuthorityMetadataCache', () => {
  it('answers a repeated discovery GET from the first answer, with the new request on it', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    const up = upstream();
    const first = await cache.policy.sendRequest(request(TENANT_A), up.next);
    const again = request(TENANT_A);
    const second = await cache.policy.sendRequest(again, up.next);
    expect(up.calls).toEqual([`GET ${TENANT_A}`]);
    expect(second.status).toBe(200);
    expect(second.bodyAsText).toBe(first.bodyAsText);
    expect(second.headers.toJSON()).toEqual({ 'x-n': '1' });
    expect(second.request).toBe(again);
  });

  it('shares one fetch between requests at the same time', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const up = upstream(async (req, n) => {
      await gate;
      return { request: req, status: 200, headers: headers({}), bodyAsText: `{"n":${n}}` };
    });
    const all = Promise.all([1, 2, 3].map(() => cache.policy.sendRequest(request(TENANT_A), up.next)));
    release();
    const answers = await all;
    expect(up.calls).toHaveLength(1);
    expect(answers.map((a) => a.bodyAsText)).toEqual(['{"n":1}', '{"n":1}', '{"n":1}']);
  });

  it('keeps each URL apart: another tenant is fetched on its own', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    const up = upstream();
    await cache.policy.sendRequest(request(TENANT_A), up.next);
    const b = await cache.policy.sendRequest(request(TENANT_B), up.next);
    await cache.policy.sendRequest(request(TENANT_B), up.next);
    expect(up.calls).toEqual([`GET ${TENANT_A}`, `GET ${TENANT_B}`]);
    expect(b.bodyAsText).toBe('{"n":2}');
  });

  it('passes every other request through, every time: the token endpoint, a POST to the discovery path', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    const up = upstream();
    for (let i = 0; i < 2; i++) {
      await cache.policy.sendRequest(request(TOKEN, 'POST'), up.next);
      await cache.policy.sendRequest(request(TOKEN), up.next);
      await cache.policy.sendRequest(request(TENANT_A, 'POST'), up.next);
    }
    expect(up.calls).toEqual([`POST ${TOKEN}`, `GET ${TOKEN}`, `POST ${TENANT_A}`, `POST ${TOKEN}`, `GET ${TOKEN}`, `POST ${TENANT_A}`]);
  });

  it('keeps no answer but a 200 with a body: a failure or an empty answer is asked again', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    const answers: Array<Partial<Response>> = [{ status: 503, bodyAsText: '{}' }, { status: 200, bodyAsText: undefined }, { status: 200, bodyAsText: '{"ok":true}' }];
    const up = upstream((req, n) => ({ request: req, headers: headers({}), ...answers[n - 1] }) as Response);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await cache.policy.sendRequest(request(TENANT_A), up.next)).status);
    expect(statuses).toEqual([503, 200, 200, 200]);
    expect(up.calls).toHaveLength(3);
  });

  it('lets a network failure reach the caller, and asks again next time', async () => {
    const cache = new AuthorityMetadataCache(clockAt(0));
    const up = upstream((req, n) => {
      if (n === 1) throw new Error('connect ECONNREFUSED');
      return { request: req, status: 200, headers: headers({}), bodyAsText: '{"n":2}' };
    });
    await expect(cache.policy.sendRequest(request(TENANT_A), up.next)).rejects.toThrow('ECONNREFUSED');
    expect((await cache.policy.sendRequest(request(TENANT_A), up.next)).bodyAsText).toBe('{"n":2}');
    expect((await cache.policy.sendRequest(request(TENANT_A), up.next)).bodyAsText).toBe('{"n":2}');
    expect(up.calls).toHaveLength(2);
  });

  it('reuses an answer for a day, then asks again', async () => {
    const clock = clockAt(1_000);
    const cache = new AuthorityMetadataCache(clock);
    const up = upstream();
    await cache.policy.sendRequest(request(TENANT_A), up.next);
    clock.t = 1_000 + METADATA_TTL_MS - 1;
    expect((await cache.policy.sendRequest(request(TENANT_A), up.next)).bodyAsText).toBe('{"n":1}');
    clock.t = 1_000 + METADATA_TTL_MS;
    expect((await cache.policy.sendRequest(request(TENANT_A), up.next)).bodyAsText).toBe('{"n":2}');
    expect(METADATA_TTL_MS).toBe(86_400_000);
  });
});
