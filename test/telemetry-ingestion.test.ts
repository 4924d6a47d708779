import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import type { TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startAzureMonitor } from '../src/core/telemetry/azure-monitor';
import { ingestionCredential } from '../src/core/telemetry/start-telemetry';
import { createLocalCa } from '../src/dev/sandbox/ca';

// The production export path end to end: the real Azure Monitor exporters, signed in through the
// App Service managed identity endpoint (the sandbox's), exactly as APPLICATIONINSIGHTS_AUTHENTICATION_STRING
// names it, sending to an ingestion endpoint on 127.0.0.1 over HTTPS that records what arrives.

const sb = inject('sandbox');
const KEY = '3b5f0c2e-8d4a-4e1f-9a6b-0c7d2e1f4a5b';
let server: Server;
let dir: string;
let url: string;
const received: { authorization: string | undefined; path: string | undefined; body: string }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingestion-'));
  const ca = await createLocalCa(dir);
  setDefaultCACertificates([...getCACertificates('default'), sb.caPem, ca.caPem]);
  vi.stubEnv('IDENTITY_ENDPOINT', sb.managedIdentity.endpoint);
  vi.stubEnv('IDENTITY_HEADER', sb.managedIdentity.header);
  vi.stubEnv('APPLICATIONINSIGHTS_STATSBEAT_DISABLED', 'true');
  server = createServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      received.push({ authorization: req.headers.authorization, path: req.url, body });
      const n = (JSON.parse(body || '[]') as unknown[]).length;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ itemsReceived: n, itemsAccepted: n, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  vi.unstubAllEnvs();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('telemetry export to Application Insights', () => {
  it('signs in as the managed identity the authentication string names and delivers spans and metrics', async () => {
    const clientId = sb.apps.vendingApp.clientId;
    const unused: TokenCredential = { getToken: () => Promise.reject(new Error('the app credential must not be used')) };
    const credential = ingestionCredential(`ClientId=${clientId};Authorization=AAD`, unused);
    const t = startAzureMonitor({ connectionString: `InstrumentationKey=${KEY};IngestionEndpoint=${url}`, credential, version: 'test', samplingRatio: 1 });
    await t.request('token', undefined, async (finish) => {
      await t.stage('grant', () => Promise.resolve());
      await t.dependency('keyvault', 'get secret', () => Promise.resolve());
      t.cache('sp_token', true);
      finish({ route: 'token', status: 200, code: 'issued', outcome: 'issued', workspace: 'analytics-sandbox', mode: 'aad', requestId: 'ingest-1', durationMs: 4 });
    });
    await t.flush();

    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(r.path).toBe('/v2.1/track');
      const [scheme, token] = (r.authorization ?? '').split(' ');
      expect(scheme).toBe('Bearer');
      const claims = JSON.parse(Buffer.from(token?.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      expect(claims.aud).toMatch(/^https:\/\/monitor\.azure\.com\/?$/);
      expect(claims.appid ?? claims.azp).toBe(clientId);
    }
    const envelopes = received.flatMap((r) => JSON.parse(r.body) as { name: string; iKey: string; tags: Record<string, string>; data: { baseData: { name?: string; metrics?: { name: string }[] } } }[]);
    expect(new Set(envelopes.map((e) => e.iKey))).toEqual(new Set([KEY]));
    const names = envelopes.map((e) => `${e.name.replace('Microsoft.ApplicationInsights.', '')}: ${e.data.baseData.name ?? e.data.baseData.metrics?.map((m) => m.name).join(',')}`);
    expect(names).toEqual(expect.arrayContaining(['Request: vend token', 'RemoteDependency: grant', 'RemoteDependency: Key Vault: get secret', 'Metric: vend.requests', 'Metric: vend.request.duration', 'Metric: vend.cache.lookups']));
    // service.name and service.version become the cloud role and the application version.
    expect(envelopes.find((e) => e.name.endsWith('Request'))?.tags).toMatchObject({ 'ai.cloud.role': 'dbx-token-vending', 'ai.application.ver': 'test' });
  });
});
