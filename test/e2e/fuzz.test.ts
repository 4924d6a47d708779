import { request } from 'node:http';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { stackWithHost } from './harness';

// A bounded run in `npm test`; `npm run fuzz` sets FUZZ_RUNS (≥ 10,000) and may fix FUZZ_SEED.
const RUNS = Number(process.env.FUZZ_RUNS ?? '150');
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const env = stackWithHost();

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** One raw request over node:http, so a Content-Length may lie and any method or path goes out as is. */
function send(url: URL, req: { method: string; path: string; headers: Record<string, string>; body: Buffer; declaredLength?: number }): Promise<Answer | 'no-answer'> {
  return new Promise((resolve) => {
    const headers = { ...req.headers, 'content-length': String(req.declaredLength ?? req.body.length) };
    const out = request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve('no-answer'));
    });
    out.on('timeout', () => out.destroy());
    out.on('error', () => resolve('no-answer'));
    out.end(req.body);
  });
}

const PATHS = ['/api/token', '/api/token/analytics-sandbox/123', '/api/workspaces', '/api/health', '/api/token/ops-sandbox/abc'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

function requestArbitrary(validAuthorization: string) {
  const body = fc.oneof(
    fc.record({ workspace: fc.oneof(fc.constantFrom('analytics-sandbox', 'ops-sandbox', 'nope'), fc.string()), mode: fc.option(fc.oneof(fc.constantFrom('aad', 'pat'), fc.string())), lifetime_seconds: fc.option(fc.oneof(fc.integer(), fc.double(), fc.string())), management_token: fc.option(fc.anything()), purpose: fc.option(fc.string({ maxLength: 300 })) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    fc.json(),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  return fc.record({
    method: fc.oneof(fc.constantFrom(...METHODS), fc.stringMatching(/^[A-Z]{1,8}$/)),
    path: fc.oneof(fc.constantFrom(...PATHS), fc.webPath().map((p) => `/api${p}`), fc.webSegment().map((s) => `/api/token/${s}/${s}`)),
    query: fc.option(fc.webQueryParameters()),
    contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', ';;;')),
    authorization: fc.option(fc.oneof(fc.constant(validAuthorization), fc.string({ maxLength: 300 }), fc.string().map((s) => `Bearer ${s}`), fc.constant(`Bearer ${validAuthorization.slice(7, -3)}abc`))),
    requestId: fc.option(fc.string({ maxLength: 300 })),
    body,
    lie: fc.option(fc.integer({ min: 0, max: 50 })),
  });
}

const isProblem = (a: Answer): boolean => {
  if (!a.contentType.startsWith('application/problem+json')) return false;
  const p = JSON.parse(a.body) as Record<string, unknown>;
  return p.status === a.status && typeof p.code === 'string' && typeof p.title === 'string' && !('access_token' in p);
};

it(`fuzzes the HTTP surface: ${RUNS} cases, no 5xx for client input, never a token without a valid caller and grant`, async () => {
  const url = new URL(env.host.url);
  const valid = `Bearer ${await env.stack.callerToken()}`;
  let cases = 0;
  await fc.assert(
    fc.asyncProperty(requestArbitrary(valid), async (r) => {
      cases++;
      const bodyBytes = Buffer.from(r.body, 'latin1');
      const headers: Record<string, string> = {};
      if (r.contentType !== null) headers['content-type'] = r.contentType;
      if (r.authorization !== null) headers.authorization = r.authorization.replace(/[\r\n]/g, '');
      if (r.requestId !== null) headers['x-request-id'] = r.requestId.replace(/[^\t\x20-\x7e]/g, '');
      const path = `${encodeURI(decodeURI(r.path)).replace(/[?#]/g, '')}${r.query ? `?${r.query}` : ''}`;
      // A Content-Length may only lie downwards here: a larger one would leave the server waiting by design.
      const declaredLength = r.lie !== null && r.lie < bodyBytes.length ? r.lie : undefined;
      const answer = await send(url, { method: r.method, path, headers, body: bodyBytes, declaredLength });
      if (answer === 'no-answer') return r.method === 'HEAD' || declaredLength !== undefined;
      expect(answer.status, `${r.method} ${path}`).toBeLessThan(500);
      if (answer.status === 200 && answer.body.includes('access_token')) {
        const token = JSON.parse(answer.body) as { workspace?: { name?: string }; access_token?: unknown };
        expect(r.authorization).toBe(valid);
        expect(token.workspace?.name).toBe('analytics-sandbox');
        expect(typeof token.access_token).toBe('string');
      } else if (answer.status !== 200 && answer.status !== 204 && r.method !== 'HEAD' && answer.body !== '') {
        expect(isProblem(answer), `${answer.status} ${answer.body.slice(0, 200)}`).toBe(true);
      }
      return true;
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  console.log(`fuzz: ${cases} cases, seed ${SEED}`);
  expect(cases).toBeGreaterThanOrEqual(RUNS);
  const health = await fetch(`${env.host.url}/health`);
  expect(health.status).toBe(200);
}, 600_000);
