import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';

/**
 * The bench's reference servers, run in their own process like the host: a bare node:http server
 * answering POST /api/token with the JSON it is given (a vend reply of the same size), and, with
 * BASELINE_TABLE_CONNECTION set, the same server writing one entity the size of an audit row to
 * Table storage (one createEntity per request, awaited before answering): the physical limit of a
 * warm vend that audits every issuance before answering.
 */
const body = Buffer.from(process.env.BASELINE_BODY ?? '{}');
const connection = process.env.BASELINE_TABLE_CONNECTION;
const table = connection ? TableClient.fromConnectionString(connection, process.env.BASELINE_TABLE_NAME ?? 'baseline', { allowInsecureConnection: true }) : undefined;

function auditLikeRow(): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  const now = new Date();
  const requestId = randomUUID();
  return {
    partitionKey: `b${now.toISOString().slice(0, 10).replaceAll('-', '')}`,
    rowKey: `${now.toISOString()}-${requestId}`,
    request_id: requestId, time: now.toISOString(), outcome: 'issued', status: 200, code: '',
    caller_tid: randomUUID(), caller_oid: randomUUID(), caller_appid: randomUUID(), caller_kind: 'app', caller_name: 'baseline',
    workspace: 'analytics-sandbox', service_principal: 'etl-sp', mode: 'aad', management_token: false,
    token_id: randomUUID(), token_fingerprint: '0123456789abcdef', expires_on: Math.floor(now.getTime() / 1000) + 3600,
    purpose: '', source_ip: '127.0.0.1', user_agent: 'autocannon', latency_ms: 1,
  };
}

async function main(): Promise<void> {
  if (table) await table.createTable();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(body.length) }).end(body);
      if (!table) return answer();
      table.createEntity(auditLikeRow()).then(answer, () => void res.writeHead(503, { 'content-length': '0' }).end());
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  console.log(`baseline listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/api`);
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((err: unknown) => {
  console.error('baseline server failed:', err instanceof Error ? err.message : String(err));
  process.exit(1);
});
