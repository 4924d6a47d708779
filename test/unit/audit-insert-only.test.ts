import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableAuditSink } from '../../src/core/audit';
import type { AuditRecord } from '../../src/core/audit';

// The app's role on the audit table allows Insert Entity (entities/add/action) and reads, nothing
// else: an upsert (Insert Or Replace/Merge) or an update would be refused in Azure, and would let
// the app rewrite a row. So the sink must only ever insert: POST to the table, never PUT, MERGE,
// PATCH or DELETE on an entity. Checked on the wire, through the real @azure/data-tables client.

// azurite's well-known public development account key (not a secret).
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const requests: { method: string; path: string }[] = [];
let conflictNext = false;
const server = createServer((req, res) => {
  requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '' });
  req.resume();
  req.on('end', () => {
    if (conflictNext && req.url?.startsWith('/devstoreaccount1/audittest')) {
      conflictNext = false;
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ 'odata.error': { code: 'EntityAlreadyExists', message: { value: 'The specified entity already exists.' } } }));
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
  it('inserts each record with POST to the table, even on a key collision; never upserts, merges, updates or deletes', async () => {
    const { port } = server.address() as AddressInfo;
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const sink = new TableAuditSink({ kind: 'connection-string', connectionString, tableName: 'audittest' }, { getToken: () => Promise.resolve(null) });
    await sink.record(record('req-1'));
    conflictNext = true;
    await sink.record(record('req-1')).catch(() => undefined);

    const entityWrites = requests.filter((r) => r.path.startsWith('/devstoreaccount1/audittest'));
    expect(entityWrites.length).toBeGreaterThanOrEqual(2);
    for (const write of entityWrites) expect(write).toEqual({ method: 'POST', path: '/devstoreaccount1/audittest' });
    expect(requests.filter((r) => r.method !== 'POST')).toEqual([]);
  });
});
