import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { startAzuriteTable } from './azurite-process.js';
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
  readonly tableName: string;
  /** Cuts every connection and refuses new ones: the network is gone (a write in flight may or may not have landed). */
  setDown(down: boolean): void;
  /** Answers every batch transaction 503 without forwarding it: a write that provably did not land. */
  failWrites(fail: boolean): void;
  /** Batch transactions forwarded to azurite so far. */
  batchesForwarded(): number;
  /** The grants table, in the same azurite behind a proxy of its own: its outage is staged apart. */
  readonly grants: { readonly connectionString: string; readonly tableName: string; setDown(down: boolean): void };
  stop(): Promise<void>;
}

export async function startAuditStore(workDir: string, quiet: boolean): Promise<AuditStore> {
  const azurite = await startAzuriteTable(workDir, quiet);
  const cleanup: (() => Promise<void>)[] = [() => azurite.stop()];
  const stop = async (): Promise<void> => {
    for (const step of cleanup.splice(0).reverse()) await step();
  };
  try {
    const faults = await startFaultLayer(azurite.port);
    cleanup.push(() => faults.close());
    const proxy = await startTcpProxy(faults.port);
    cleanup.push(() => proxy.close());
    const grantsProxy = await startTcpProxy(azurite.port);
    cleanup.push(() => grantsProxy.close());
    const through = (port: number): string =>
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` + `TableEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
    const connectionString = through(proxy.port);
    const grants = { connectionString: through(grantsProxy.port), tableName: GRANTS_TABLE_NAME, setDown: (down: boolean) => grantsProxy.setDown(down) };
    await TableClient.fromConnectionString(connectionString, AUDIT_TABLE_NAME, { allowInsecureConnection: true }).createTable();
    await TableClient.fromConnectionString(grants.connectionString, GRANTS_TABLE_NAME, { allowInsecureConnection: true }).createTable();
    return {
      connectionString,
      tableName: AUDIT_TABLE_NAME,
      setDown: (down) => proxy.setDown(down),
      failWrites: (fail) => faults.setFailing(fail),
      batchesForwarded: () => faults.batches(),
      grants,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface FaultLayer {
  readonly port: number;
  setFailing(fail: boolean): void;
  batches(): number;
  close(): Promise<void>;
}

/** A loopback HTTP relay to azurite that can refuse `$batch` requests before they reach it. */
async function startFaultLayer(upstreamPort: number): Promise<FaultLayer> {
  let failing = false;
  let batches = 0;
  const server = createServer((req, res) => {
    const isBatch = req.method === 'POST' && /\/\$batch(\?|$)/.test(req.url ?? '');
    if (isBatch && failing) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/json', 'x-ms-error-code': 'ServerBusy' });
      res.end(JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'Staged outage.' } } }));
      return;
    }
    if (isBatch) batches += 1;
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
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
    batches: () => batches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
