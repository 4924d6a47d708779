import { createServer, request } from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Agent, createServer as createTlsServer, request as tlsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TableClient } from '@azure/data-tables';
import { startAzuriteTable } from './azurite-process.js';
import type { LocalCa } from './ca.js';
import { startTcpProxy } from './tcp-proxy.js';

export const AUDIT_TABLE_NAME = 'vendingaudit';
export const GRANTS_TABLE_NAME = 'vendinggrants';

// Azurite's published development account and key: public knowledge, not a secret.
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * The audit table: azurite in memory behind a fault layer and a proxy, so outages can be staged
 * without losing rows. Path: client → TCP proxy (`setDown`) → HTTP layer (`failWrites`) → azurite.
 */
export interface AuditStore {
  /** Points at the proxy, never at azurite itself. */
  readonly connectionString: string;
  /**
   * Over HTTPS only: the table endpoint as Azure names one (`https://<account>.table.<host>:<port>`,
   * no path), for identity-based clients; `*.localhost` must resolve to loopback (localhost-names.ts).
   */
  readonly endpoint: string | undefined;
  readonly tableName: string;
  /** Cuts every connection and refuses new ones: the network is gone (a write in flight may or may not have landed). */
  setDown(down: boolean): void;
  /** Answers every batch transaction 503 without forwarding it: a write that provably did not land. */
  failWrites(fail: boolean): void;
  /** Holds every batch transaction this long before forwarding it (0: not at all): a slow store whose writes still land. */
  setSlow(delayMs: number): void;
  /** Batch transactions forwarded to azurite so far. */
  batchesForwarded(): number;
  /** Every batch transaction since the last reset: arrival and when its answer was written (performance.now(); NaN while open). */
  batchTimeline(): Array<{ readonly at: number; readonly answeredAt: number }>;
  resetBatchTimeline(): void;
  /** The azurite process behind the proxies (the bench samples the store's CPU time). */
  readonly storePid: number;
  /** The grants table, in the same azurite behind a proxy of its own: its outage is staged apart. */
  readonly grants: { readonly connectionString: string; readonly endpoint: string | undefined; readonly tableName: string; setDown(down: boolean): void };
  stop(): Promise<void>;
}

/**
 * `ca` given: azurite over HTTPS with OAuth (`--oauth basic`), presenting the sandbox's server
 * certificate, as identity-based production clients need; otherwise plain HTTP, shared key only.
 */
export async function startAuditStore(workDir: string, quiet: boolean, ca?: LocalCa): Promise<AuditStore> {
  const azurite = await startAzuriteTable(workDir, quiet, ca && { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile });
  const cleanup: (() => Promise<void>)[] = [() => azurite.stop()];
  const stop = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };
  try {
    const faults = await startFaultLayer(azurite.port, ca);
    cleanup.push(() => faults.close());
    const proxy = await startTcpProxy(faults.port);
    cleanup.push(() => proxy.close());
    const grantsProxy = await startTcpProxy(azurite.port);
    cleanup.push(() => grantsProxy.close());
    const scheme = ca ? 'https' : 'http';
    const through = (port: number): string =>
      `DefaultEndpointsProtocol=${scheme};AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` + `TableEndpoint=${scheme}://127.0.0.1:${port}/${DEV_ACCOUNT};`;
    const endpointAt = (port: number): string | undefined => (ca ? `https://${DEV_ACCOUNT}.table.localhost:${port}` : undefined);
    const connectionString = through(proxy.port);
    const grants = {
      connectionString: through(grantsProxy.port), endpoint: endpointAt(grantsProxy.port), tableName: GRANTS_TABLE_NAME,
      setDown: (down: boolean) => grantsProxy.setDown(down),
    };
    await sandboxTableClient(connectionString, AUDIT_TABLE_NAME, ca).createTable();
    await sandboxTableClient(grants.connectionString, GRANTS_TABLE_NAME, ca).createTable();
    return {
      connectionString,
      endpoint: endpointAt(proxy.port),
      tableName: AUDIT_TABLE_NAME,
      setDown: (down) => proxy.setDown(down),
      failWrites: (fail) => faults.setFailing(fail),
      setSlow: (ms) => faults.setDelay(ms),
      batchesForwarded: () => faults.batches(),
      batchTimeline: () => faults.timeline(),
      resetBatchTimeline: () => faults.resetTimeline(),
      storePid: azurite.pid,
      grants,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A shared-key client of the sandbox's azurite; over HTTPS it trusts the sandbox CA (this process need not). */
export function sandboxTableClient(connectionString: string, tableName: string, ca?: LocalCa): TableClient {
  if (!ca) return TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  const agent = new Agent({ ca: ca.caPem, keepAlive: true });
  return TableClient.fromConnectionString(connectionString, tableName, {
    additionalPolicies: [{ position: 'perCall', policy: { name: 'sandbox-ca', sendRequest: (req, next) => next(Object.assign(req, { agent })) } }],
  });
}

/**
 * Azurite parses a batch's sub-request URLs as path-style only (`/<account>/<table>`), so a batch
 * sent to a production-style host fails with 500 (Azure/Azurite#2322); Azure takes both forms.
 * The relay puts the account into those paths, which changes nothing else the store sees.
 */
function pathStyleBatch(body: Buffer): Buffer {
  const text = body.toString('utf8').replace(/(https:\/\/([a-z0-9]+)\.table\.localhost(?::\d+)?)\/(?!\2\/)/g, '$1/$2/');
  return Buffer.from(text, 'utf8');
}

interface FaultLayer {
  readonly port: number;
  setFailing(fail: boolean): void;
  setDelay(ms: number): void;
  batches(): number;
  timeline(): Array<{ readonly at: number; readonly answeredAt: number }>;
  resetTimeline(): void;
  close(): Promise<void>;
}

/**
 * A loopback relay to azurite that can refuse or hold `$batch` requests before they reach it. Over
 * HTTPS (`ca`) it terminates TLS with the sandbox's certificate and forwards over TLS, keeping the
 * Host header, so azurite still sees a production-style host name.
 */
async function startFaultLayer(upstreamPort: number, ca?: LocalCa): Promise<FaultLayer> {
  let failing = false;
  let delayMs = 0;
  let batches = 0;
  let timeline: { at: number; answeredAt: number }[] = [];
  /** `body` given: sent instead of the request's own (already read) body. */
  const forward = (req: IncomingMessage, res: ServerResponse, body?: Buffer): void => {
    const headers = body ? { ...req.headers, 'content-length': String(body.length) } : req.headers;
    const options = { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers };
    const onAnswer = (up: IncomingMessage): void => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    };
    const upstream = ca ? tlsRequest({ ...options, ca: ca.caPem }, onAnswer) : request(options, onAnswer);
    upstream.on('error', () => res.destroy());
    if (body) upstream.end(body);
    else req.pipe(upstream);
  };
  const later = (req: IncomingMessage, res: ServerResponse, body?: Buffer): void => {
    if (delayMs > 0) setTimeout(() => forward(req, res, body), delayMs);
    else forward(req, res, body);
  };
  const handler: RequestListener = (req, res) => {
    const isBatch = req.method === 'POST' && /\/\$batch(\?|$)/.test(req.url ?? '');
    if (isBatch && failing) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/json', 'x-ms-error-code': 'ServerBusy' });
      res.end(JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'Staged outage.' } } }));
      return;
    }
    if (!isBatch) return forward(req, res);
    batches += 1;
    const entry = { at: performance.now(), answeredAt: Number.NaN };
    timeline.push(entry);
    res.once('finish', () => (entry.answeredAt = performance.now()));
    if (!ca) {
      req.pause();
      return later(req, res);
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => later(req, res, pathStyleBatch(Buffer.concat(chunks))));
  };
  const server = ca ? createTlsServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, handler) : createServer(handler);
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setFailing: (fail) => {
      failing = fail;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    batches: () => batches,
    timeline: () => timeline.map((e) => ({ ...e })),
    resetTimeline: () => {
      timeline = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
