import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(async () => {
  stack.sandbox.vault.setDown(false);
  await stack?.finish();
});

describe('operating the service', () => {
  it('refuses to start on an invalid configuration and lists every problem', async () => {
    const config = structuredClone(stack.sandbox.config) as unknown as Record<string, unknown>;
    config.tenantId = 'not-a-guid';
    (config.grants as Record<string, unknown>[]).push({ workspace: 'ghost', callers: { roles: ['x'] }, modes: ['aad'], maxLifetimeSeconds: 600 });
    const failed = await spawnHost({ ...stack.sandbox.hostEnv(), VENDING_CONFIG: JSON.stringify(config), AUDIT_HMAC_KEY: 'dG9vIHNob3J0' }).then(
      () => undefined,
      (err: Error & { output?: string }) => err.output ?? '',
    );
    expect(failed).toContain('tenantId: must be a GUID');
    expect(failed).toContain(`grants.${(config.grants as unknown[]).length - 1}.workspace: no workspace named "ghost"`);
    expect(failed).toContain('AUDIT_HMAC_KEY: must be base64 of at least 32 bytes');
    expect(failed).not.toContain(stack.sandbox.apps.vendingApp.secret);
  });

  it('limits each caller per minute with 429 and Retry-After, other callers unaffected', async () => {
    const config = { ...stack.sandbox.config, limits: { perCallerPerMinute: 3 } };
    const host = await stack.host({ VENDING_CONFIG: JSON.stringify(config) });
    const token = await stack.callerToken();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await stack.vend(host, { workspace: 'analytics-sandbox' }, { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await stack.vend(host, { workspace: 'analytics-sandbox' }, { token });
    expect(limited.json.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const someoneElse = await stack.callerToken({ kind: 'user' });
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' }, { token: someoneElse })).status).toBe(200);
  });

  it('health turns degraded after a Key Vault failure and names the check, nothing more', async () => {
    const host = await stack.host();
    expect((await stack.call(host, '/health', { token: null })).json).toMatchObject({ status: 'ok', checks: { keyvault: 'unknown' } });
    stack.sandbox.vault.setDown(true);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(503);
    const health = await stack.call(host, '/health', { token: null });
    expect(health.status).toBe(200);
    // The refusal's audit row is written in the background, so the audit check may not have seen a write yet.
    expect(health.json).toMatchObject({ status: 'degraded', checks: { config: 'ok', keyvault: 'failing', audit: expect.stringMatching(/^(ok|unknown)$/) as string } });
    stack.sandbox.vault.setDown(false);
    expect((await stack.vend(host, { workspace: 'analytics-sandbox' })).status).toBe(200);
    expect((await stack.call(host, '/health', { token: null })).json).toMatchObject({ status: 'ok', checks: { keyvault: 'ok', entra: 'ok' } });
  });
});
