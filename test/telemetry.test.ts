import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { ClientSecretCredential } from '@azure/identity';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config';
import { METRIC_NAMES } from '../src/core/telemetry/open-telemetry';
import { createVendDeps } from '../src/core/azure';
import { startSandbox } from '../src/dev/sandbox';
import type { Sandbox } from '../src/dev/sandbox';
import { makeRoutes } from '../src/functions/routes';
import { credentialShapes, leakNeedles } from './e2e/harness';
import { inMemoryTelemetry } from './support/in-memory-telemetry';

// Real vends through the production wiring (createVendDeps, the routes) against a sandbox of this
// file's own (its ledger knows every credential it issued), with the OpenTelemetry adapter writing
// to the SDK's in-memory exporters. Then: the span tree, the metrics, and a scan of every name,
// attribute and label for any credential in play.

const HOST_TRACE = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

let sandbox: Sandbox;
let handlers: Record<string, HttpHandler>;
const { telemetry, spans, metrics, meterProvider, tracerProvider } = inMemoryTelemetry();
/** Every token the test held: caller JWTs and what the service vended. */
const tokens: string[] = [];
const replies: Record<string, { status: number; json: Record<string, unknown> }> = {};

async function vend(id: string, body: Record<string, unknown>, opts: { token?: string; traceParent?: string } = {}): Promise<void> {
  const token = opts.token ?? (await sandbox.issueCallerToken());
  tokens.push(token);
  const request = new HttpRequest({
    method: 'POST', url: 'http://localhost/api/token',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': id },
    body: { string: JSON.stringify(body) },
  });
  const context = new InvocationContext({ functionName: 'token', ...(opts.traceParent ? { traceContext: { traceParent: opts.traceParent } } : {}) });
  const handler = handlers.token;
  if (!handler) throw new Error('no token route');
  const res = (await handler(request, context)) as HttpResponseInit;
  const json = JSON.parse(typeof res.body === 'string' ? res.body : '{}') as Record<string, unknown>;
  for (const value of [json.access_token, ...Object.values((json.headers ?? {}) as Record<string, string>)]) if (typeof value === 'string') tokens.push(value);
  replies[id] = { status: res.status ?? 200, json };
}

beforeAll(async () => {
  sandbox = await startSandbox({ quiet: true });
  setDefaultCACertificates([...getCACertificates('default'), sandbox.caPem]);
  const vendingApp = sandbox.apps.vendingApp;
  const appCredential = new ClientSecretCredential(sandbox.tenantId, vendingApp.clientId, vendingApp.secret, { authorityHost: sandbox.authorityHost, disableInstanceDiscovery: true });
  // No start-up prefetch here: the cold vend fetches the signing keys itself, as it does when a
  // prefetch failed, so its caller check shows that upstream call beneath it.
  const deps = createVendDeps(loadConfig(sandbox.hostEnv()), { appCredential, telemetry, prefetch: false });
  handlers = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));

  await vend('cold', { workspace: 'analytics-sandbox' }, { traceParent: `00-${HOST_TRACE.traceId}-${HOST_TRACE.spanId}-01` });
  await vend('warm', { workspace: 'analytics-sandbox', management_token: false });
  await vend('pat', { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 });
  // A caller may pick its own request id; one that is a credential never reaches the telemetry.
  await vend(String(replies.pat?.json.access_token), { workspace: 'analytics-sandbox' });
  sandbox.workspace.faults.set({ path: /\/token\/create$/, status: 503 });
  await vend('pat-down', { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 });
  sandbox.workspace.faults.clear();
  await vend('unknown-ws', { workspace: 'no-such-workspace' });
  await vend('bad-token', { workspace: 'analytics-sandbox' }, { token: `${(await sandbox.issueCallerToken()).slice(0, -4)}AAAA` });
  const grantsToken = await sandbox.issueCallerToken();
  tokens.push(grantsToken);
  const grants = handlers.grants;
  if (!grants) throw new Error('no grants route');
  const listed = (await grants(new HttpRequest({ method: 'GET', url: 'http://localhost/api/grants', headers: { authorization: `Bearer ${grantsToken}`, 'x-request-id': 'grants' } }), new InvocationContext({ functionName: 'grants' }))) as HttpResponseInit;
  replies.grants = { status: listed.status ?? 200, json: {} };
  await telemetry.flush();
}, 60_000);

afterAll(async () => {
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
  await sandbox?.stop();
});

const finished = (): ReadableSpan[] => spans.getFinishedSpans();
const rootOf = (id: string): ReadableSpan => {
  const root = finished().find((s) => s.name === 'vend token' && s.attributes['vend.request_id'] === id);
  if (!root) throw new Error(`no request span for ${id}`);
  return root;
};
const childrenOf = (parent: ReadableSpan): ReadableSpan[] => finished().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const child = (parent: ReadableSpan, name: string): ReadableSpan => {
  const found = childrenOf(parent).find((s) => s.name === name);
  if (!found) throw new Error(`no "${name}" under "${parent.name}": ${childrenOf(parent).map((s) => s.name).join(', ')}`);
  return found;
};
function metric(name: string): MetricData {
  const found = metrics.getMetrics().at(-1)?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  if (!found) throw new Error(`no metric ${name}`);
  return found;
}
const points = (name: string): DataPoint<unknown>[] => metric(name).dataPoints;

describe('telemetry: spans and metrics of real vends (in-memory exporters)', () => {
  it('answers as it would without telemetry', () => {
    const pat = String(replies.pat?.json.access_token);
    expect(pat).toMatch(/^dapi[0-9a-f]{32}/);
    expect(Object.fromEntries(Object.entries(replies).map(([id, r]) => [id, r.status]))).toEqual({
      cold: 200, warm: 200, pat: 200, [pat]: 200, 'pat-down': 503, 'unknown-ws': 403, 'bad-token': 401, grants: replies.grants?.status,
    });
    // The grant routes have their request span too, with the route and how it ended.
    const grants = finished().find((s) => s.name === 'vend grants.list');
    expect(grants?.attributes).toMatchObject({ 'vend.route': 'grants.list', 'vend.request_id': 'grants', 'http.response.status_code': replies.grants?.status });
    expect(finished().filter((s) => s.attributes['vend.request_id'] === '(withheld)')).toHaveLength(1);
  });

  it('makes one span per stage of a cold vend, with the upstream calls beneath, under the host invocation', () => {
    const root = rootOf('cold');
    expect(root.spanContext().traceId).toBe(HOST_TRACE.traceId);
    expect(root.parentSpanContext?.spanId).toBe(HOST_TRACE.spanId);
    expect(root.attributes).toMatchObject({
      'vend.route': 'token', 'vend.outcome': 'issued', 'vend.code': 'issued', 'http.response.status_code': 200,
      'vend.workspace': 'analytics-sandbox', 'vend.mode': 'aad', 'vend.caller.appid': sandbox.apps.callerApp.clientId,
    });
    expect(childrenOf(root).map((s) => s.name)).toEqual(['caller check', 'grant', 'mint', 'audit']);
    expect(childrenOf(child(root, 'caller check')).map((s) => s.name)).toContain('Entra ID: signing keys');
    const mint = child(root, 'mint');
    expect(child(child(mint, 'secret'), 'Key Vault: get secret').attributes).toMatchObject({ 'vend.dependency': 'keyvault', 'vend.operation': 'get secret' });
    expect(child(mint, 'Entra ID: token').attributes['vend.dependency']).toBe('entra');
    expect(child(child(root, 'audit'), 'Table storage: insert batch').attributes['vend.dependency']).toBe('table');
    for (const s of [root, ...childrenOf(root)]) expect(s.endTime[0] + s.endTime[1] / 1e9).toBeGreaterThanOrEqual(s.startTime[0] + s.startTime[1] / 1e9);
  });

  it('makes no upstream span for a warm vend (every cache hits), and a Databricks span for a PAT', () => {
    const warm = rootOf('warm');
    const mint = child(warm, 'mint');
    expect(childrenOf(mint)).toEqual([]);
    expect(childrenOf(child(warm, 'caller check'))).toEqual([]);
    expect(warm.kind).toBe(1); // SERVER: no host trace to join
    expect(childrenOf(child(rootOf('pat'), 'mint')).map((s) => s.name)).toContain('Databricks: create token');
  });

  it('marks failures with a code, never a message', () => {
    const down = rootOf('pat-down');
    expect(down.attributes).toMatchObject({ 'vend.outcome': 'failed', 'vend.code': 'upstream_unavailable', 'http.response.status_code': 503 });
    expect(down.status.code).toBe(2);
    const databricks = child(child(down, 'mint'), 'Databricks: create token');
    expect({ status: databricks.status.code, type: databricks.attributes['error.type'], message: databricks.status.message }).toEqual({ status: 2, type: 'upstream_unavailable', message: undefined });
    expect(databricks.events).toEqual([]);
    const refused = rootOf('unknown-ws');
    expect(refused.attributes).toMatchObject({ 'vend.outcome': 'denied', 'vend.code': 'not_granted', 'vend.workspace': '(unknown)' });
    expect(refused.status.code).toBe(0);
    expect(child(rootOf('bad-token'), 'caller check').attributes['error.type']).toBe('invalid_token');
  });

  it('counts vends by outcome and workspace, their latency, cache hits, upstream errors and audit batch sizes', () => {
    const count = (name: string, match: Record<string, string>): number =>
      points(name).filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v)).reduce((n, p) => n + (typeof p.value === 'number' ? p.value : (p.value as Histogram).count), 0);
    expect(count(METRIC_NAMES.requests, { 'vend.route': 'token', 'vend.outcome': 'issued', 'vend.workspace': 'analytics-sandbox' })).toBe(4);
    expect(count(METRIC_NAMES.requests, { 'vend.outcome': 'denied' })).toBe(2);
    expect(count(METRIC_NAMES.requests, { 'vend.outcome': 'failed', 'vend.code': 'upstream_unavailable', 'vend.mode': 'pat' })).toBe(1);
    expect(count(METRIC_NAMES.duration, { 'vend.route': 'token' })).toBe(7);
    expect(metric(METRIC_NAMES.duration).descriptor.unit).toBe('ms');
    expect(count(METRIC_NAMES.cacheLookups, { 'vend.cache': 'sp_token', 'vend.cache.result': 'miss' })).toBeGreaterThanOrEqual(1);
    expect(count(METRIC_NAMES.cacheLookups, { 'vend.cache': 'sp_token', 'vend.cache.result': 'hit' })).toBeGreaterThanOrEqual(2);
    expect(count(METRIC_NAMES.cacheLookups, { 'vend.cache': 'secret', 'vend.cache.result': 'miss' })).toBeGreaterThanOrEqual(1);
    expect(count(METRIC_NAMES.cacheLookups, { 'vend.cache': 'caller_token', 'vend.cache.result': 'miss' })).toBeGreaterThanOrEqual(4);
    expect(count(METRIC_NAMES.upstreamErrors, { 'vend.dependency': 'databricks', 'error.type': 'upstream_unavailable' })).toBe(1);
    const batches = points(METRIC_NAMES.auditBatchSize).filter((p) => p.attributes['vend.audit.kind'] === 'issuance');
    expect(batches.reduce((n, p) => n + ((p.value as Histogram).sum ?? 0), 0)).toBe(4);
  });

  it('carries no token, secret or caller JWT in any name, attribute, event or label', () => {
    const everything = JSON.stringify({
      spans: finished().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links, resource: s.resource.attributes })),
      metrics: metrics.getMetrics().map((r) => r.scopeMetrics.map((s) => s.metrics.map((m) => ({ descriptor: m.descriptor, points: m.dataPoints.map((p) => p.attributes) })))),
    });
    const { apps } = sandbox;
    const secrets = [
      apps.vendingApp.secret, apps.callerApp.secret, apps.otherCallerApp.secret, ...Object.values(apps.servicePrincipals).map((sp) => sp.secret),
      sandbox.auditHmacKey, ...tokens, ...sandbox.authority.credentials.all(),
    ];
    const needles = leakNeedles(secrets);
    expect(needles.length).toBeGreaterThan(10);
    expect(tokens.some((t) => t.startsWith('dapi'))).toBe(true);
    for (const needle of needles) expect(everything.includes(needle), 'a credential is in the telemetry').toBe(false);
    expect(credentialShapes(everything)).toBeUndefined();
    expect(everything).toContain('analytics-sandbox');
  });
});
