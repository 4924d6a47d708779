import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from './harness';
import type { Reply } from './harness';

const DATABRICKS_SCOPE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default';
const MANAGEMENT_SCOPE = 'https://management.core.windows.net//.default';
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterEach(() => {
  stack.sandbox.vault.setDown(false);
  stack.sandbox.authority.setDown(false);
  stack.sandbox.authority.setJwksDown(false);
  stack.sandbox.audit.setDown(false);
});
afterAll(async () => {
  await stack?.finish();
});

function expectUnavailable(reply: Reply, code: string): void {
  expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 503, code });
  expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(reply.json.access_token).toBeUndefined();
  expect(reply.text).not.toMatch(/eyJ|dapi/);
}

describe('concurrency', () => {
  it('serves 100 concurrent cold requests with one Key Vault read and one Entra ID call', async () => {
    const { sandbox } = stack;
    const host = await stack.host();
    sandbox.vault.resetCounters();
    sandbox.authority.resetCounters();
    const token = await stack.callerToken();
    const replies = await Promise.all(Array.from({ length: 100 }, () => stack.vend(host, { workspace: 'analytics-sandbox' }, { token })));
    expect(replies.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(new Set(replies.map((r) => r.json.access_token)).size).toBe(1);
    expect(sandbox.vault.secretReads('etl-sp-secret')).toBe(1);
    expect(sandbox.authority.tokenRequests({ clientId: sandbox.apps.servicePrincipals['etl-sp'].clientId })).toBe(1);
    // The app's own identity asked once for a Key Vault token, too.
    expect(sandbox.authority.tokenRequests({ clientId: sandbox.apps.vendingApp.clientId })).toBe(1);
    const issued = (await stack.auditRows()).filter((r) => r.outcome === 'issued' && r.caller_appid === sandbox.apps.callerApp.clientId);
    expect(issued.length).toBeGreaterThanOrEqual(100);
  });
});

describe('Key Vault', () => {
  it('down on a cold host: 503 upstream_unavailable with Retry-After; back up: 200', async () => {
    const host = await stack.host();
    stack.sandbox.vault.setDown(true);
    expectUnavailable(await stack.vend(host, { workspace: 'analytics-sandbox' }), 'upstream_unavailable');
    stack.sandbox.vault.setDown(false);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
  });

  it('down on a warm host: cached tokens still vend', async () => {
    const host = await stack.host();
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    stack.sandbox.vault.setDown(true);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
  });
});

describe('Entra ID', () => {
  it('a fresh host fetches the signing keys at start, before any request; its first vend fetches none', async () => {
    const { authority } = stack.sandbox;
    authority.faults.resetRequests();
    const host = await stack.host();
    const keys = /\/discovery\/v2\.0\/keys$/;
    for (const until = Date.now() + 20_000; authority.faults.requests(keys) === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 25));
    expect(authority.faults.requests(keys)).toBe(1);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    expect(authority.faults.requests(keys)).toBe(1);
  });

  it('signing keys unavailable on a cold host: 503, not 401', async () => {
    // Down before the host starts: its start-up prefetch of the keys fails, and the first request
    // fetches them again itself (and cannot).
    stack.sandbox.authority.setJwksDown(true);
    const host = await stack.host();
    expectUnavailable(await stack.vend(host, { workspace: 'analytics-sandbox' }), 'upstream_unavailable');
  });

  it('down on a warm host: cached keys and tokens still vend; a new mint answers 503', async () => {
    const host = await stack.host();
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    stack.sandbox.authority.setDown(true);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    expectUnavailable(await stack.vend(host, { workspace: 'ops-sandbox' }), 'upstream_unavailable');
  });

  it('invalid_client after a secret rotation: reads the latest version once and succeeds', async () => {
    const { sandbox } = stack;
    const ops = sandbox.apps.servicePrincipals['ops-sp'];
    const host = await stack.host();
    expect((await stack.vend(host, { workspace: 'ops-sandbox' })).status).toBe(200); // caches ops-sp's secret and its Databricks token
    const rotated = randomBytes(32).toString('base64url');
    sandbox.authority.setClientSecrets(ops.clientId, [rotated]);
    sandbox.vault.setSecret(ops.secretName, rotated);
    sandbox.vault.resetCounters();
    sandbox.authority.resetCounters();
    // The management scope needs a new mint with the kept (old) secret: Entra ID says invalid_client.
    const reply = await stack.vend(host, { workspace: 'ops-sandbox', management_token: true });
    expect(reply.status).toBe(200);
    expect(sandbox.vault.secretReads(ops.secretName)).toBe(1);
    expect(sandbox.authority.tokenRequests({ clientId: ops.clientId, scope: MANAGEMENT_SCOPE })).toBe(2);
    stack.secrets().push(rotated);
    await stack.expectNoLeaks([rotated]);
  });

  it('invalid_client with no newer secret in the vault: 502 that says what to check, and no secret', async () => {
    const { sandbox } = stack;
    const etl = sandbox.apps.servicePrincipals['etl-sp'];
    const host = await stack.host();
    sandbox.vault.resetCounters();
    sandbox.authority.resetCounters();
    const revoked = randomBytes(32).toString('base64url');
    sandbox.authority.setClientSecrets(etl.clientId, [revoked]); // the vault still holds the old one
    try {
      const reply = await stack.vend(host, { workspace: 'analytics-sandbox' });
      expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 502, code: 'upstream_rejected' });
      expect(reply.json.detail).toMatch(/invalid_client, AADSTS7000215/);
      expect(reply.text).not.toContain(etl.secret);
      expect(reply.text).not.toContain(etl.secretName);
      expect(reply.text).not.toContain(sandbox.vaultUrl);
      // One refused mint, one read of the latest version (the same one): no second attempt with a known-bad secret.
      expect(sandbox.authority.tokenRequests({ clientId: etl.clientId, scope: DATABRICKS_SCOPE })).toBe(1);
      expect(sandbox.vault.secretReads(etl.secretName)).toBe(2);
    } finally {
      sandbox.authority.setClientSecrets(etl.clientId, [etl.secret]);
    }
  });
});

describe('audit store', () => {
  it('down: 503 audit_unavailable and no token; earlier rows survive; back up: 200', async () => {
    const host = await stack.host();
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' }, { headers: { 'x-request-id': 'before-outage' } })).status).toBe(200);
    stack.sandbox.audit.setDown(true);
    const reply = await stack.vend(host, { workspace: 'analytics-sandbox' }, { headers: { 'x-request-id': 'during-outage' } });
    expectUnavailable(reply, 'audit_unavailable');
    expect(reply.text).not.toContain('access_token');
    stack.sandbox.audit.setDown(false);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    const rows = await stack.auditRows();
    expect(rows.some((r) => r.request_id === 'before-outage' && r.outcome === 'issued')).toBe(true);
    expect(rows.some((r) => r.request_id === 'during-outage' && r.outcome === 'issued')).toBe(false);
  });
});
