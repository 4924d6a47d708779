import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableAuditSink } from '../../src/core/azure';
import type { AuditRecord } from '../../src/core/audit';

// The app's role on the audit table allows Insert Entity (entities/add/action) and reads, nothing
// else: an upsert (Insert Or Replace/Merge) or an update would be refused in Azure, and would let
// the app rewrite a row. So the sink must only ever insert: POST to the table, never PUT, MERGE,
// PATCH or DELETE on an entity. Checked on the wire, through the real @azure/data-tables client.

// azurite's well-known public development account key (not a secret).
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const requests: { method: string; path: string }[] = [];
/** The operations inside each batch transaction (group commit sends rows as `$batch` changesets). */
const operations: { method: string; path: string }[] = [];
let conflictNext = false;
const server = createServer((req, res) => {
  requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '' });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url?.startsWith('/devstoreaccount1/$batch')) {
      for (const m of Buffer.concat(chunks).toString('utf8').matchAll(/^([A-Z]+) (\S+) HTTP\/1\.1\r?$/gm)) {
        operations.push({ method: m[1] ?? '', path: new URL(m[2] ?? '').pathname });
      }
      res.writeHead(202, { 'content-type': 'multipart/mixed; boundary=batchresponse_1' });
      if (!conflictNext) {
        res.end();
        return;
      }
      // The service fails a changeset naming the entity: "<index>:<message>".
      conflictNext = false;
      const error = JSON.stringify({ 'odata.error': { code: 'EntityAlreadyExists', message: { value: '0:The specified entity already exists.' } } });
      res.end(`--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n--changesetresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n${error}\r\n--changesetresponse_1--\r\n--batchresponse_1--\r\n`);
      return;
    }
    res.writeHead(req.url?.startsWith('/devstoreaccount1/Tables') ? 409 : 204, { 'content-type': 'application/json' });
    res.end(req.url?.startsWith('/devstoreaccount1/Tables') ? JSON.stringify({ 'odata.error': { code: 'TableAlreadyExists', message: { value: 'exists' } } }) : undefined);
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function record(requestId: string): AuditRecord {
  return { request_id: requestId, time: '2026-11-29T20:00:00.000Z', outcome: 'issued', status: 200, code: 'issued', latency_ms: 3 };
}

describe('audit sink: insert-only on the wire', () => {
  it('inserts each record with POST to the table inside batch transactions, even on a key collision; never upserts, merges, updates or deletes', async () => {
    const { port } = server.address() as AddressInfo;
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const sink = new TableAuditSink({ kind: 'connection-string', connectionString, tableName: 'audittest' }, { getToken: () => Promise.resolve(null) });
    await sink.record(record('req-1'));
    conflictNext = true;
    // Refused by index as an existing key: written again under a suffixed key, still with POST.
    await sink.record(record('req-1'));

    // Every request is a POST (the table, or a batch); every operation inside a batch is an insert.
    expect(requests.filter((r) => r.method !== 'POST')).toEqual([]);
    expect(operations.length).toBeGreaterThanOrEqual(3);
    for (const op of operations) expect(op).toEqual({ method: 'POST', path: '/devstoreaccount1/audittest' });
    sink.close();
  });
});
