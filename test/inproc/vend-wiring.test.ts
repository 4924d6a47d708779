import { readFileSync } from 'node:fs';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { ClientSecretCredential } from '@azure/identity';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/core/config';
import { deadlinesFor } from '../../src/core/deadline';
import { UpstreamRejectedError } from '../../src/core/errors';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { createVendDeps } from '../../src/core/azure';
import type { CreateVendDepsOptions } from '../../src/core/azure';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';

// createVendDeps is the one place config meets real clients. These tests check what it wires,
// against the sandbox: the version it reports, the deadlines, the clock, on-behalf-of only when
// configured, telemetry around each upstream, the start-time prefetch, and the audit key's source.

const sb = inject('sandbox');
setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
const appCredential = new ClientSecretCredential(sb.tenantId, sb.apps.vendingApp.clientId, sb.apps.vendingApp.secret, { authorityHost: sb.authorityHost, disableInstanceDiscovery: true });
const callerCredential = new ClientSecretCredential(sb.tenantId, sb.apps.callerApp.clientId, sb.apps.callerApp.secret, { authorityHost: sb.authorityHost, disableInstanceDiscovery: true });

/** Every deps built here: each one's API grants refresh in the background until stopped (afterEach). */
const built: VendDeps[] = [];

function build(options: CreateVendDepsOptions = {}, env: Record<string, string | undefined> = {}) {
  const merged: Record<string, string> = { ...sb.hostEnv };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const config = loadConfig(merged);
  const deps = createVendDeps(config, { appCredential, onAuditKeyChange: () => undefined, ...options });
  built.push(deps);
  const handlers = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const context = new InvocationContext({ functionName: 'wiring', logHandler: () => undefined });
  async function call(route: string, method: string, body?: unknown, token?: string | null, params: Record<string, string> = {}) {
    const bearer = token === undefined ? (await callerCredential.getToken('api://dbx-token-vending/.default')).token : token;
    const request = new HttpRequest({
      method, url: `http://localhost/api/${route}`, params,
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
  // No refresh timer of a test's deps goes on into later test files (they share this worker).
  for (const deps of built.splice(0)) deps.grantAdmin?.cache.stop();
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

  it('wires on-behalf-of to the configured tenant, authority and API registration: the sandbox Entra ID itself judges the exchange', async () => {
    const { deps } = build({ prefetch: false, telemetry: NO_TELEMETRY });
    // An app's token is no user's assertion: Entra ID answers with its refusal, which only a
    // request to the configured authority, as the vending API's registration, can get.
    const appToken = (await callerCredential.getToken('api://dbx-token-vending/.default')).token;
    const user = { tenantId: sb.tenantId, objectId: 'user-oid', appId: sb.apps.callerApp.clientId, roles: [], kind: 'user' as const, name: undefined };
    const err = await deps.onBehalfOf?.getUserToken(user, appToken, '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default', 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect((err as UpstreamRejectedError).detail).toMatch(/^Entra ID refused the on-behalf-of exchange \(invalid_grant, AADSTS\d+\)/);
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

  it('reports Key Vault, Entra ID and the audit table by name in health once a vend has used them', async () => {
    const { call } = build({ prefetch: false, telemetry: NO_TELEMETRY });
    expect((await call('health', 'GET', undefined, null)).json.checks).toMatchObject({ keyvault: 'unknown', entra: 'unknown', audit: 'unknown' });
    const vend = await call('token', 'POST', { workspace: 'analytics-sandbox' });
    expect(vend.status, vend.text).toBe(200);
    expect((await call('health', 'GET', undefined, null)).json.checks).toMatchObject({ keyvault: 'ok', entra: 'ok', audit: 'ok' });
  });

  it('wires the workspace\'s PAT API: a PAT is created, then revoked for the same caller', async () => {
    const { call } = build({ prefetch: false, telemetry: NO_TELEMETRY });
    const created = await call('token', 'POST', { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 });
    expect(created.status, created.text).toBe(200);
    expect(created.json.access_token).toMatch(/^dapi[0-9a-f]{32}/);
    const tokenId = created.json.token_id as string;
    const revoked = await call('revokeToken', 'DELETE', undefined, undefined, { workspace: 'analytics-sandbox', token_id: tokenId });
    expect(revoked.status, revoked.text).toBe(204);
  });

  it('the workspace OAuth exchange counts a token\'s life on the given clock, as the answer does', async () => {
    const aheadMs = 20 * 60_000;
    const { call } = build({ prefetch: false, telemetry: NO_TELEMETRY, clock: { now: () => Date.now() + aheadMs } });
    const vend = await call('token', 'POST', { workspace: 'analytics-scoped', mode: 'oauth' });
    expect(vend.status, vend.text).toBe(200);
    // The workspace grants what is left of the SP's hour-long Entra ID token; counted from a
    // clock 20 minutes behind the given one, the answer would tell some 2,400 s.
    expect(vend.json.expires_in).toBeGreaterThan(3_000);
    expect(vend.json.expires_in).toBeLessThanOrEqual(3_600);
  });

  it('the service\'s deps and each request\'s deps read the same grants in force, not a copy taken at build', () => {
    const { deps } = build({ prefetch: false, telemetry: NO_TELEMETRY });
    const inForce = deps.grants;
    expect(inForce).toBeDefined();
    expect(deps.forRequest?.().grants).toBe(inForce);
    expect(deps.grants).toBe(inForce);
  });

  it('re-reads the API grants every refreshSeconds, and trusts the last good read for maxStaleSeconds', async () => {
    const intervals = vi.spyOn(globalThis, 'setInterval');
    let shiftMs = 0;
    const { config, call } = build({ prefetch: false, telemetry: NO_TELEMETRY, clock: { now: () => Date.now() + shiftMs } });
    expect(intervals.mock.calls.map((c) => c[1])).toContain(config.apiGrants.refreshSeconds * 1_000);
    await vi.waitFor(async () => expect((await call('health', 'GET', undefined, null)).json.checks).toMatchObject({ grants: 'ok' }), { timeout: 10_000, interval: 20 });
    shiftMs = config.apiGrants.maxStaleSeconds * 1_000 - 1_000; // a second short of the bound
    expect((await call('health', 'GET', undefined, null)).json.checks).toMatchObject({ grants: 'ok' });
  });

  it('without a given credential, signs in as the app from its environment (a client secret here) at the configured authority, with no instance discovery at Microsoft', async () => {
    vi.stubEnv('AZURE_TENANT_ID', sb.tenantId);
    vi.stubEnv('AZURE_CLIENT_ID', sb.apps.vendingApp.clientId);
    vi.stubEnv('AZURE_CLIENT_SECRET', sb.apps.vendingApp.secret);
    for (const name of ['AZURE_AUTHORITY_HOST', 'AZURE_FEDERATED_TOKEN_FILE', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT']) vi.stubEnv(name, undefined);
    try {
      const { call } = build({ prefetch: false, telemetry: NO_TELEMETRY, appCredential: undefined });
      const vend = await call('token', 'POST', { workspace: 'analytics-sandbox' });
      expect(vend.status, vend.text).toBe(200);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
