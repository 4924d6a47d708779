import { readFileSync } from 'node:fs';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { ClientSecretCredential } from '@azure/identity';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/core/config';
import { deadlinesFor } from '../../src/core/deadline';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { createVendDeps } from '../../src/core/azure';
import type { CreateVendDepsOptions } from '../../src/core/azure';
import { makeRoutes } from '../../src/functions/routes';

// createVendDeps is the one place config meets real clients. These tests check what it wires,
// against the sandbox: the version it reports, the deadlines, the clock, on-behalf-of only when
// configured, telemetry around each upstream, the start-time prefetch, and the audit key's source.

const sb = inject('sandbox');
setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
const appCredential = new ClientSecretCredential(sb.tenantId, sb.apps.vendingApp.clientId, sb.apps.vendingApp.secret, { authorityHost: sb.authorityHost, disableInstanceDiscovery: true });
const callerCredential = new ClientSecretCredential(sb.tenantId, sb.apps.callerApp.clientId, sb.apps.callerApp.secret, { authorityHost: sb.authorityHost, disableInstanceDiscovery: true });

function build(options: CreateVendDepsOptions = {}, env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string> = { ...sb.hostEnv };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const config = loadConfig(merged);
  const deps = createVendDeps(config, { appCredential, onAuditKeyChange: () => undefined, ...options });
  const handlers = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const context = new InvocationContext({ functionName: 'wiring', logHandler: () => undefined });
  async function call(route: string, method: string, body?: unknown, token?: string | null) {
    const bearer = token === undefined ? (await callerCredential.getToken('api://dbx-token-vending/.default')).token : token;
    const request = new HttpRequest({
      method, url: `http://localhost/api/${route}`,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: { string: JSON.stringify(body) } }),
    });
    const res = await handlers[route](request, context);
    const text = typeof res.body === 'string' ? res.body : '';
    return { status: res.status ?? 200, json: (text ? JSON.parse(text) : {}) as Record<string, unknown>, text };
  }
  return { config, deps, call };
}

/** Telemetry that only records what it is told, to see which calls the wiring traces. */
function recordingTelemetry() {
  const dependencies: string[] = [];
  const caches: [string, boolean][] = [];
  const telemetry: Telemetry = {
    ...NO_TELEMETRY,
    enabled: true,
    dependency: (dependency, operation, run) => (dependencies.push(`${dependency} ${operation}`), run()),
    cache: (cache, hit) => void caches.push([cache, hit]),
  };
  return { telemetry, dependencies, caches };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createVendDeps', () => {
  it('reports this package\'s version and deadlines from the configured request budget', async () => {
    const { deps, config, call } = build({ prefetch: false, telemetry: NO_TELEMETRY });
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string };
    expect(pkg.name).toBe('dbx-token-vending');
    expect(deps.version).toBe(pkg.version);
    expect(deps.deadlines).toEqual(deadlinesFor(config.service.requestBudgetMs));
    expect(deps.telemetry).toBe(NO_TELEMETRY);
    expect((await call('health', 'GET', undefined, null)).json.version).toBe(pkg.version);
  });

  it('wires on-behalf-of only when the configuration names the vending API\'s app registration', () => {
    expect(build({ prefetch: false }).deps.onBehalfOf).toBeDefined();
    const doc = JSON.parse(sb.hostEnv.VENDING_CONFIG) as { onBehalfOf?: unknown; grants: { modes: string[] }[] };
    delete doc.onBehalfOf;
    doc.grants = doc.grants.map((g) => ({ ...g, modes: g.modes.filter((m) => m !== 'user') })).filter((g) => g.modes.length > 0);
    expect(build({ prefetch: false }, { VENDING_CONFIG: JSON.stringify(doc) }).deps.onBehalfOf).toBeUndefined();
  });

  it('the given clock decides: a caller token is expired two hours from now', async () => {
    const ahead = build({ prefetch: false, clock: { now: () => Date.now() + 2 * 3_600_000 } });
    const res = await ahead.call('workspaces', 'GET');
    expect(res.status, res.text).toBe(401);
    expect((await build({ prefetch: false }).call('workspaces', 'GET')).status).toBe(200);
  });

  it('traces the signing keys and the caller cache through the given telemetry', async () => {
    const { telemetry, dependencies, caches } = recordingTelemetry();
    const { call } = build({ prefetch: false, telemetry });
    const listed = await call('workspaces', 'GET');
    expect(listed.status, listed.text).toBe(200);
    expect(dependencies).toContain('entra signing keys');
    // Once the keys are known, each request asks the verified-token cache (the same token: a hit).
    expect((await call('workspaces', 'GET')).status).toBe(200);
    expect(caches.filter(([name]) => name === 'caller_token').at(-1)).toEqual(['caller_token', true]);
  });

  it('traces the SP\'s token and the audit write of a vend through the given telemetry', async () => {
    const { telemetry, dependencies } = recordingTelemetry();
    const { call } = build({ prefetch: false, telemetry });
    const vend = await call('token', 'POST', { workspace: 'analytics-sandbox' });
    expect(vend.status, vend.text).toBe(200);
    expect(dependencies).toEqual(expect.arrayContaining(['entra token', 'table insert batch']));
  });

  it('fetches the caller\'s signing keys at start unless told not to', async () => {
    const eager = recordingTelemetry();
    const lazy = recordingTelemetry();
    build({ telemetry: lazy.telemetry, prefetch: false });
    build({ telemetry: eager.telemetry });
    await vi.waitFor(() => expect(eager.dependencies).toContain('entra signing keys'), { timeout: 10_000, interval: 20 });
    expect(lazy.dependencies).toEqual([]);
  });

  it('without AUDIT_HMAC_KEY the key is the vault secret: missing, the app says so by name and cannot vend', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { call } = build({ prefetch: false, onAuditKeyChange: undefined }, { AUDIT_HMAC_KEY: undefined, AUDIT_HMAC_SECRET_NAME: 'no-such-audit-key' });
    await vi.waitFor(() => expect(warn).toHaveBeenCalled(), { timeout: 10_000, interval: 20 });
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/^dbx-token-vending cannot vend yet: audit key: Key Vault secret "no-such-audit-key" \(AUDIT_HMAC_SECRET_NAME\) not found/);
    const health = await call('health', 'GET', undefined, null);
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ status: 'unavailable', checks: { audit_key: 'missing' } });
    const vend = await call('token', 'POST', { workspace: 'analytics-sandbox' });
    expect({ status: vend.status, code: vend.json.code }).toEqual({ status: 503, code: 'audit_unavailable' });

    const told: (string | undefined)[] = [];
    build({ prefetch: false, onAuditKeyChange: (p) => told.push(p) }, { AUDIT_HMAC_KEY: undefined, AUDIT_HMAC_SECRET_NAME: 'no-such-audit-key' });
    await vi.waitFor(() => expect(told).toHaveLength(1), { timeout: 10_000, interval: 20 });
    expect(told[0]).toContain('"no-such-audit-key"');
    expect(warn).toHaveBeenCalledOnce();
  });
});
