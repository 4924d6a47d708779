import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from './harness';
import type { Reply } from './harness';

// The first start in Azure (DESIGN §8): the host runs before the operator has stored the audit
// key. It must serve, say what it lacks, refuse to vend, and start vending on its own once the
// key is in the vault: no restart.

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});

afterAll(async () => {
  await stack?.finish();
});

const VEND = { workspace: 'analytics-sandbox' };

/** Vends until a 200 or the deadline, waiting what each 503's Retry-After asks. */
async function vendUntilIssued(host: Parameters<Stack['vend']>[0], deadlineMs: number): Promise<{ reply: Reply; attempts: number }> {
  const until = Date.now() + deadlineMs;
  for (let attempts = 1; ; attempts++) {
    const reply = await stack.vend(host, VEND);
    if (reply.status !== 503 || Date.now() > until) return { reply, attempts };
    await sleep(Number(reply.headers.get('retry-after') ?? '1') * 1000);
  }
}

describe('audit key read from Key Vault by name', () => {
  it('starts without the key: routes answer, health 503 names it, vend 503 with Retry-After; then vends once it is stored', async () => {
    const host = await stack.host({ AUDIT_HMAC_KEY: '' });

    // The first vend waits for the start-up read of the vault (it is in flight), so it is refused.
    const refused = await stack.vend(host, VEND);
    expect({ status: refused.status, code: refused.json.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const health = await stack.call(host, '/health', { token: null });
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ status: 'unavailable', checks: { config: 'ok', audit_key: 'missing' } });
    expect((health.json.missing as string[])[0]).toContain('Key Vault secret "audit-hmac-key" (AUDIT_HMAC_SECRET_NAME) not found');
    // The other routes are registered and answer as usual.
    expect((await stack.call(host, '/workspaces')).status).toBe(200);
    expect(host.output()).toMatch(/cannot vend yet: audit key: Key Vault secret "audit-hmac-key" \(AUDIT_HMAC_SECRET_NAME\) not found/);

    stack.sandbox.vault.setSecret('audit-hmac-key', stack.sandbox.auditHmacKey);
    const { reply } = await vendUntilIssued(host, 60_000);
    expect(reply.status).toBe(200);
    expect(host.output()).toContain('audit key read from Key Vault; vending is on');

    // The key from the vault is the one the audit row's fingerprint was made with.
    const token = reply.json.access_token as string;
    const rows = await stack.auditRows();
    const row = rows.find((r) => r.request_id === reply.json.request_id);
    const expected = createHmac('sha256', Buffer.from(stack.sandbox.auditHmacKey, 'base64')).update(token).digest('hex').slice(0, 16);
    expect(row?.token_fingerprint).toBe(expected);

    const healthy = await stack.call(host, '/health', { token: null });
    expect(healthy.status).toBe(200);
    expect(healthy.json.checks).toMatchObject({ audit_key: 'ok' });
  }, 90_000);

  it("reports App Service's unresolved @Microsoft.KeyVault(...) text as such and never uses it as a key", async () => {
    const reference = '@Microsoft.KeyVault(VaultName=kv-vend-test;SecretName=missing-key)';
    const host = await stack.host({ AUDIT_HMAC_KEY: reference, AUDIT_HMAC_SECRET_NAME: 'missing-key' });

    const refused = await stack.vend(host, VEND);
    expect({ status: refused.status, code: refused.json.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);

    const health = await stack.call(host, '/health', { token: null });
    expect(health.status).toBe(503);
    const missing = (health.json.missing as string[])[0];
    expect(missing).toMatch(/^audit key: AUDIT_HMAC_KEY is an unresolved Key Vault reference \(@Microsoft\.KeyVault\(\.\.\.\) text, not a key\), so it is not used; Key Vault secret "missing-key" \(AUDIT_HMAC_SECRET_NAME\) not found/);
    expect(host.output()).toContain('AUDIT_HMAC_KEY is an unresolved Key Vault reference');
    expect(host.output()).not.toContain('VaultName=kv-vend-test');
  }, 60_000);
});
