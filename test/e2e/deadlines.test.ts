import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';
import type { Reply } from './harness';

// A short budget (a local-only setting) keeps these tests fast: every deadline scales with it.
const BUDGET_MS = 5_000;
const TOKEN_ENDPOINT = /\/oauth2\/v2\.0\/token$/;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterEach(() => {
  stack.sandbox.authority.faults.clear();
  stack.sandbox.workspace.faults.clear();
  stack.sandbox.audit.setDown(false);
});
afterAll(async () => {
  await stack?.finish();
});

/** A host whose signing keys, app token and etl-sp are warm; ops-sp has never been minted. */
async function warmHost(): Promise<SpawnedHost> {
  const host = await stack.host({ VENDING_REQUEST_BUDGET_MS: String(BUDGET_MS) });
  expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
  return host;
}

async function timed(run: () => Promise<Reply>): Promise<{ reply: Reply; ms: number }> {
  const start = performance.now();
  const reply = await run();
  return { reply, ms: performance.now() - start };
}

function retryAfterOf(reply: Reply): number {
  expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 503, code: 'upstream_unavailable' });
  expect(reply.json.access_token).toBeUndefined();
  const seconds = Number(reply.headers.get('retry-after'));
  expect(seconds).toBeGreaterThanOrEqual(1);
  return seconds;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ops = { workspace: 'ops-sandbox' };

// Slow, 5xx and the other faults are rows of fault-matrix.test.ts; these need more than a row.
describe('Retry-After tells the truth', () => {
  it("honours Entra ID's own Retry-After on 429: tells it, does not call before it, succeeds after it", async () => {
    const host = await warmHost();
    stack.sandbox.authority.faults.set({ path: TOKEN_ENDPOINT, status: 429, headers: { 'retry-after': '3' }, json: { error: 'temporarily_unavailable' } });
    const wait = retryAfterOf(await stack.vend(host, ops));
    expect(wait).toBe(3);
    stack.sandbox.authority.faults.clear();
    stack.sandbox.authority.resetCounters();
    retryAfterOf(await stack.vend(host, ops));
    expect(stack.sandbox.authority.tokenRequests({ clientId: stack.sandbox.apps.servicePrincipals['ops-sp'].clientId })).toBe(0);
    await sleep(wait * 1000);
    expect((await stack.vend(host, ops)).status).toBe(200);
  });
});

describe('nothing usable left behind', () => {
  it('a PAT whose issuance cannot be recorded is revoked at once and logged by id', async () => {
    const host = await warmHost();
    const etl = stack.sandbox.apps.servicePrincipals['etl-sp'].clientId;
    const before = new Set(stack.sandbox.workspace.listTokens(etl).map((t) => t.token_id));
    stack.sandbox.audit.setDown(true);
    const { reply, ms } = await timed(() => stack.vend(host, { workspace: 'analytics-sandbox', mode: 'pat' }));
    expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(reply.json.access_token).toBeUndefined();
    expect(ms).toBeLessThan(BUDGET_MS + 1_500);
    const left = stack.sandbox.workspace.listTokens(etl).filter((t) => !before.has(t.token_id));
    expect(left).toEqual([]);
    expect(host.output()).toMatch(/PAT [0-9a-f]+ in workspace \\"analytics-sandbox\\" was created but not issued; it was revoked/);
  });
});

describe('the revocation trail', () => {
  it('one row per decision: a refused or repeated revocation is never recorded as revoked', async () => {
    const host = await warmHost();
    // A caller of its own: refusal rows are bounded per caller and minute, and earlier tests refused the default one.
    const owner = await stack.callerToken({ claims: { oid: randomUUID() } });
    const vended = await stack.vend(host, { workspace: 'analytics-sandbox', mode: 'pat' }, { token: owner });
    const path = `/token/analytics-sandbox/${String(vended.json.token_id)}`;
    const other = await stack.call(host, path, { method: 'DELETE', token: await stack.callerToken({ claims: { oid: randomUUID() } }), headers: { 'x-request-id': 'rv-other' } });
    expect(other.status).toBe(404);
    expect((await stack.call(host, path, { method: 'DELETE', token: owner, headers: { 'x-request-id': 'rv-own' } })).status).toBe(204);
    expect((await stack.call(host, path, { method: 'DELETE', token: owner, headers: { 'x-request-id': 'rv-again' } })).status).toBe(404);
    // Refusal rows are written in the background: wait until both refusals are on record.
    await vi.waitFor(async () => {
      const rows = await stack.auditRows();
      const of = (id: string): unknown[] => rows.filter((r) => r.request_id === id).map((r) => [r.outcome, r.status]);
      expect(of('rv-other')).toEqual([['denied', 404]]);
      expect(of('rv-own')).toEqual([['revoked', 204]]);
      expect(of('rv-again')).toEqual([['denied', 404]]);
    }, { timeout: 10_000, interval: 200 });
  });
});

describe('live PAT cap per caller (maxLivePats, default 20)', () => {
  it('fills the cap, answers 429 with what to do, and vends again once one is revoked', async () => {
    const host = await warmHost();
    const user = await stack.callerToken({ kind: 'user' });
    const pat = { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 };
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await stack.vend(host, pat, { token: user });
      expect(reply.status).toBe(200);
      ids.push(String(reply.json.token_id));
    }
    const over = await stack.vend(host, pat, { token: user });
    expect({ status: over.status, code: over.json.code }).toEqual({ status: 429, code: 'rate_limited' });
    expect(over.json.detail).toMatch(/revoke one .* or wait/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(500);
    expect(over.json.access_token).toBeUndefined();
    // Another caller sharing the SP is not affected.
    expect((await stack.vend(host, pat)).status).toBe(200);
    expect((await stack.call(host, `/token/analytics-sandbox/${ids[0]}`, { method: 'DELETE', token: user })).status).toBe(204);
    expect((await stack.vend(host, pat, { token: user })).status).toBe(200);
  });

  it("Databricks' QUOTA_EXCEEDED: 503 naming the quota, no token", async () => {
    const host = await warmHost();
    stack.sandbox.workspace.faults.set({ path: /\/token\/create$/, status: 400, json: { error_code: 'QUOTA_EXCEEDED', message: 'quota' } });
    const reply = await stack.vend(host, { workspace: 'analytics-sandbox', mode: 'pat' });
    expect(retryAfterOf(reply)).toBeGreaterThanOrEqual(1);
    expect(reply.json.detail).toMatch(/token quota, 600/);
  });
});
