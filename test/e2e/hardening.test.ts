import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { stackWithHost } from './harness';
import type { Reply } from './harness';

// Security-review hardening over real HTTP: grants stay in their tenant, workspace names cannot
// be enumerated, hostile names never reach the audit trail, bodies are bounded while read.

const env = stackWithHost();
const PARTNER = '0b0b0b0b-0000-4000-8000-000000000000';

/** A host whose config also accepts the partner tenant; `grantPartner` adds it to the analytics grant. */
async function partnerHost(grantPartner: boolean): Promise<SpawnedHost> {
  const { sandbox } = env.stack;
  const config = JSON.parse(sandbox.hostEnv().VENDING_CONFIG ?? '{}') as {
    callers: { allowedTenants: string[] };
    grants: { workspace: string; tenants?: string[] }[];
  };
  config.callers.allowedTenants.push(PARTNER);
  for (const g of config.grants) if (grantPartner && g.workspace === 'analytics-sandbox') g.tenants = [sandbox.tenantId, PARTNER];
  return env.stack.host({ VENDING_CONFIG: JSON.stringify(config) });
}

function expectNotGranted(reply: Reply, workspace: string): void {
  expect({ status: reply.status, type: reply.headers.get('content-type') }).toEqual({ status: 403, type: 'application/problem+json' });
  expect(reply.json).toEqual({
    type: 'https://dbx-token-vending.invalid/errors/not_granted',
    title: 'Not granted',
    status: 403,
    code: 'not_granted',
    detail: `Not granted, or no such workspace: "${workspace}".`,
    request_id: reply.headers.get('x-request-id'),
  });
}

describe('grants stay in their tenant', () => {
  it('refuses a partner-tenant token carrying a granted role, unless the grant names that tenant', async () => {
    const partnerToken = await env.stack.callerToken({ tenantId: PARTNER });
    const closed = await partnerHost(false);
    expectNotGranted(await env.stack.vend(closed, { workspace: 'analytics-sandbox' }, { token: partnerToken }), 'analytics-sandbox');
    expect(JSON.parse((await env.stack.call(closed, '/workspaces', { token: partnerToken })).text)).toEqual([]);
    // The home tenant's callers are unaffected on that host.
    expect((await env.stack.vend(closed, { workspace: 'analytics-sandbox' })).status).toBe(200);

    const open = await partnerHost(true);
    const vended = await env.stack.vend(open, { workspace: 'analytics-sandbox' }, { token: partnerToken, headers: { 'x-request-id': 'partner-1' } });
    expect(vended.status).toBe(200);
    expect((await env.stack.auditRows()).find((r) => r.request_id === 'partner-1')).toMatchObject({ outcome: 'issued', caller_tid: PARTNER });
    // ops-sandbox grants the same app id, but without naming the partner tenant: not listed, not vended.
    const listed = JSON.parse((await env.stack.call(open, '/workspaces', { token: partnerToken })).text) as { name: string }[];
    expect(listed.map((w) => w.name)).toEqual(['analytics-sandbox']);
    expectNotGranted(await env.stack.vend(open, { workspace: 'ops-sandbox' }, { token: partnerToken }), 'ops-sandbox');
  });
});

describe('no enumeration of workspace names', () => {
  it('answers an unknown and an ungranted workspace alike, on vend and on revoke', async () => {
    const other = await env.stack.callerToken({ clientId: env.stack.sandbox.apps.otherCallerApp.clientId, roles: [] });
    expectNotGranted(await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token: other }), 'analytics-sandbox');
    expectNotGranted(await env.stack.vend(env.host, { workspace: 'no-such-ws' }, { token: other }), 'no-such-ws');
    expectNotGranted(await env.stack.call(env.host, '/token/analytics-sandbox/1234', { method: 'DELETE', token: other }), 'analytics-sandbox');
    expectNotGranted(await env.stack.call(env.host, '/token/no-such-ws/1234', { method: 'DELETE', token: other }), 'no-such-ws');
    // A granted caller gets the same answer for an unknown name too.
    expectNotGranted(await env.stack.vend(env.host, { workspace: 'no-such-ws' }), 'no-such-ws');
  });
});

describe('hostile names never reach the audit trail', () => {
  const raw = ['ws\r\nINJECTED: yes', 'ws\u0007bell', 'ws\u202egnp.exe'];

  it('refuses them (body and revoke route) with 400 and records the refusal without the name', async () => {
    const ids: string[] = [];
    for (const [i, name] of raw.entries()) {
      ids.push(`hostile-body-${i}`, `hostile-route-${i}`);
      // A caller of its own per refusal: refusal rows are bounded per caller and minute (README "Audit record").
      const body = await env.stack.vend(env.host, { workspace: name }, { token: await env.stack.callerToken({ claims: { oid: randomUUID() } }), headers: { 'x-request-id': `hostile-body-${i}` } });
      const route = await env.stack.call(env.host, `/token/${encodeURIComponent(name)}/1234`, { method: 'DELETE', token: await env.stack.callerToken({ claims: { oid: randomUUID() } }), headers: { 'x-request-id': `hostile-route-${i}` } });
      for (const reply of [body, route]) expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    }
    const purpose = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', purpose: 'half \ud800 a pair' }, { token: await env.stack.callerToken({ claims: { oid: randomUUID() } }), headers: { 'x-request-id': 'hostile-purpose' } });
    expect({ status: purpose.status, detail: purpose.json.detail }).toEqual({ status: 400, detail: 'purpose: must be printable characters only' });
    // Refusal rows are written in the background: wait for them.
    let rows: Record<string, unknown>[] = [];
    await vi.waitFor(async () => {
      rows = (await env.stack.auditRows()).filter((r) => [...ids, 'hostile-purpose'].includes(String(r.request_id)));
      expect(rows).toHaveLength(ids.length + 1);
    }, { timeout: 10_000, interval: 100 });
    for (const row of rows) expect({ outcome: row.outcome, code: row.code, workspace: row.workspace, purpose: row.purpose }).toEqual({ outcome: 'denied', code: 'invalid_request', workspace: undefined, purpose: undefined });
    expect(JSON.stringify(rows)).not.toMatch(/INJECTED|bell|gnp|\\r|\\u0007|\\u202e|\\ud800/i);
  });
});

/** The host process's resident memory, read from outside (Linux /proc), in KiB. */
function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error('no VmRSS for the host process');
  return Number(match[1]);
}

/**
 * Offers `totalBytes` to POST /api/token in 64 KiB chunks, honouring backpressure, until the
 * answer arrives (then it stops, as a client does once refused). Samples the host's RSS from
 * outside throughout and returns the peak growth over the start.
 */
async function sendLarge(host: SpawnedHost, token: string, totalBytes: number, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; peakGrowthKiB: number; sent: number }> {
  const before = rssKiB(host.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(host.pid))), 10);
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  chunk.write('{"workspace":"analytics-sandbox","purpose":"');
  try {
    const answer = await new Promise<{ status: number; body: Record<string, unknown>; sent: number }>((resolve, reject) => {
      const req = request(`${host.url}/token`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers } });
      let sent = 0;
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString('utf8')));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown>, sent });
          req.destroy();
        });
      });
      req.on('error', (err) => (answered ? undefined : reject(err)));
      const pump = (): void => {
        while (sent < totalBytes && !answered) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    return { ...answer, peakGrowthKiB: Math.max(peak, rssKiB(host.pid)) - before };
  } finally {
    clearInterval(sampler);
  }
}

describe('bodies are bounded while read', () => {
  const FIFTY_MB = 50 * 1024 * 1024;

  it('answers 413 to a 50 MB chunked body while reading it, with host RSS growth under 10 MB', async () => {
    const token = await env.stack.callerToken();
    // Warm up the paths first (a vend, and a small refused chunked body), so the figure is about the body's size.
    await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token });
    expect((await sendLarge(env.host, token, 17 * 1024, { 'Transfer-Encoding': 'chunked' })).status).toBe(413);
    const result = await sendLarge(env.host, token, FIFTY_MB, { 'Transfer-Encoding': 'chunked' });
    expect(result.sent).toBeGreaterThan(16 * 1024);
    expect({ status: result.status, code: result.body.code }).toEqual({ status: 413, code: 'body_too_large' });
    expect(result.peakGrowthKiB).toBeLessThan(10 * 1024);
    console.info(`50 MB chunked: refused after ${Math.round(result.sent / 1024)} KiB sent; peak host RSS growth ${Math.round(result.peakGrowthKiB / 1024)} MiB`);
    // The connection stayed whole and the host serves on.
    expect((await env.stack.vend(env.host, { workspace: 'analytics-sandbox' }, { token })).status).toBe(200);
  });

  it('answers 413 to 17 KiB chunked, and to a declared 50 MB body without reading it', async () => {
    const token = await env.stack.callerToken();
    // The small refusal first: the refusal path's first-use allocations land before the RSS
    // baseline of the large one, which measures only what the 50 MB could cost.
    const small = await sendLarge(env.host, token, 17 * 1024, { 'Transfer-Encoding': 'chunked' });
    expect({ status: small.status, code: small.body.code }).toEqual({ status: 413, code: 'body_too_large' });
    const declared = await sendLarge(env.host, token, FIFTY_MB, { 'Content-Length': String(FIFTY_MB) });
    expect({ status: declared.status, code: declared.body.code }).toEqual({ status: 413, code: 'body_too_large' });
    expect(declared.peakGrowthKiB).toBeLessThan(10 * 1024);
  });

  it('still takes a chunked body under the limit', async () => {
    const body = new Blob([JSON.stringify({ workspace: 'analytics-sandbox', purpose: 'streamed' })]).stream();
    const res = await fetch(`${env.host.url}/token`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await env.stack.callerToken()}`, 'Content-Type': 'application/json' },
      body,
      duplex: 'half',
    });
    const json = (await res.json()) as { access_token?: string };
    if (json.access_token) env.stack.vendedTokens.push(json.access_token);
    expect(res.status).toBe(200);
  });
});
