import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import type { TokenCredential } from '@azure/identity';
import { RestError, TableClient } from '@azure/data-tables';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TableAuditSink } from '../../src/core/audit/table-audit-sink';
import { tableAuditReader } from '../../src/core/audit/table-audit-reader';
import type { AuditRecord } from '../../src/core/audit';
import { EntityRejectedError } from '../../src/core/audit/group-commit';
import type { AuditEntity, BatchWriter } from '../../src/core/audit/group-commit';
import { TableBatchWriter, failedIndex } from '../../src/core/audit/table-batch-writer';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { createLocalCa } from '../../src/dev/sandbox/ca';
import { loadAnew } from '../support/load-anew';
import { NO_CONTENT, changesetAnswer, failedInChangeset, refused } from '../support/table-answers';
import type { TableAnswer } from '../support/table-answers';

// The Table storage adapters' own decisions, on the errors the SDK raises (RestError with the
// service's status): which failure names one entity, when the table is (re)created, what a
// partition query asks the store. The same paths run against azurite in audit-store.test.ts.

const restError = (statusCode: number, message: string): RestError => new RestError(message, { statusCode });

describe('failedIndex', () => {
  it('reads the entity index the service puts before a client error message', () => {
    expect(failedIndex(restError(409, '3:The specified entity already exists.'))).toBe(3);
    expect(failedIndex(restError(400, '0:One of the request inputs is not valid.'))).toBe(0);
    expect(failedIndex(restError(400, '99:x'))).toBe(99);
    expect(failedIndex(restError(499, '120:x'))).toBe(120);
  });

  it('names no entity for server errors, other shapes, or a message without a leading index', () => {
    expect(failedIndex(restError(500, '1:Internal error'))).toBeUndefined();
    expect(failedIndex(restError(503, '1:Server busy'))).toBeUndefined();
    expect(failedIndex(restError(399, '1:x'))).toBeUndefined();
    expect(failedIndex(restError(409, 'The specified entity already exists. 3:'))).toBeUndefined();
    expect(failedIndex(restError(409, '1234:x'))).toBeUndefined();
    expect(failedIndex(restError(409, '2 :x'))).toBeUndefined();
    expect(failedIndex(new Error('1:no status'))).toBeUndefined();
    expect(failedIndex({ statusCode: 409, message: '1:not an Error' })).toBeUndefined();
    expect(failedIndex({ statusCode: '409', message: '1:x' })).toBeUndefined();
  });
});

/** A transaction the service turned down because of one entity: 202 outside, the failure in the changeset. */
/** A transaction the service turned down because of one entity: 202 outside, the failure in the changeset. */
const refusedInBatch = (status: number, code: string, message: string): TableAnswer => changesetAnswer(failedInChangeset(`${status} X`, code, message));
/** Every row of the transaction written. */
const written = (rows: number): TableAnswer => changesetAnswer(...Array<string>(rows).fill(NO_CONTENT));

interface FakeTable {
  readonly client: TableClient;
  readonly httpClient: HttpClient;
  /** Each `POST /Tables`, by its abort signal. */
  readonly creates: (PipelineRequest['abortSignal'])[];
  readonly batches: { readonly body: string; readonly signal: PipelineRequest['abortSignal'] }[];
  /** Every answer to `POST /Tables` until changed (default 204). */
  createAnswer: TableAnswer | undefined;
  /** The next `$batch`'s answer only (default: every row written). */
  batchAnswer: TableAnswer | undefined;
}

/** A real `TableClient` over a transport that answers as Table storage would: the decisions under test are the writer's. */
function fakeTable(): FakeTable {
  const table: Omit<FakeTable, 'client' | 'httpClient'> = { creates: [], batches: [], createAnswer: undefined, batchAnswer: undefined };
  const httpClient: HttpClient = {
    sendRequest: (request: PipelineRequest): Promise<PipelineResponse> => {
      let reply: TableAnswer;
      if (new URL(request.url).pathname === '/Tables') {
        table.creates.push(request.abortSignal);
        reply = table.createAnswer ?? { status: 204, body: '', contentType: 'application/json' };
      } else {
        const body = request.body as string;
        table.batches.push({ body, signal: request.abortSignal });
        reply = table.batchAnswer ?? written(body.split('\r\nPOST ').length - 1);
        table.batchAnswer = undefined;
      }
      return Promise.resolve({ request, status: reply.status, headers: createHttpHeaders({ 'content-type': reply.contentType }), bodyAsText: reply.body });
    },
  };
  const client = new TableClient('https://account.table.example', 'audit', { httpClient, retryOptions: { maxRetries: 0 } });
  return Object.assign(table, { httpClient, client });
}

const writerOf = (table: FakeTable): TableBatchWriter => new TableBatchWriter(table.client, { httpClient: table.httpClient });

const entities = (...keys: string[]): AuditEntity[] => keys.map((rowKey) => ({ partitionKey: '20261129-00', rowKey, outcome: 'issued' }));

/** The sub-requests of a batch body: each one's request line and entity. */
const subRequests = (body: string): { line: string; entity: unknown }[] =>
  body
    .split(/--changeset_[0-9a-f-]{36}\r\n/)
    .slice(1)
    .map((part) => ({ line: /^(?:[A-Z]+) \S+ HTTP\/1\.1$/m.exec(part)?.[0] ?? '', entity: JSON.parse(/^\{.*\}$/m.exec(part)?.[0] ?? 'null') as unknown }));

describe('TableBatchWriter', () => {
  it('creates the table once, then inserts each batch as create actions only, under a deadline', async () => {
    const table = fakeTable();
    const writer = writerOf(table);
    await writer.insertBatch(entities('a', 'b'));
    await writer.insertBatch(entities('c'));
    expect(table.creates).toHaveLength(1);
    const insert = 'POST https://account.table.example/audit HTTP/1.1';
    expect(table.batches.map((b) => subRequests(b.body))).toEqual([
      [
        { line: insert, entity: { PartitionKey: '20261129-00', RowKey: 'a', outcome: 'issued' } },
        { line: insert, entity: { PartitionKey: '20261129-00', RowKey: 'b', outcome: 'issued' } },
      ],
      [{ line: insert, entity: { PartitionKey: '20261129-00', RowKey: 'c', outcome: 'issued' } }],
    ]);
    expect(table.batches.every((b) => b.signal instanceof AbortSignal && !b.signal.aborted)).toBe(true);
    // Making the table is under a deadline too.
    expect(table.creates[0]).toBeInstanceOf(AbortSignal);
    expect(table.creates[0]?.aborted).toBe(false);
  });

  it('writes on when it may not create tables (403: the template made the table)', async () => {
    const table = fakeTable();
    table.createAnswer = refused(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.');
    const writer = writerOf(table);
    await writer.insertBatch(entities('a'));
    await writer.insertBatch(entities('b'));
    expect(table.creates).toHaveLength(1);
    expect(table.batches).toHaveLength(2);
  });

  it('fails the write when the table cannot be made, and tries again on the next one', async () => {
    const table = fakeTable();
    table.createAnswer = refused(500, 'InternalError', 'down');
    const writer = writerOf(table);
    await expect(writer.insertBatch(entities('a'))).rejects.toMatchObject({ statusCode: 500 });
    expect(table.batches).toHaveLength(0);
    table.createAnswer = undefined;
    await writer.insertBatch(entities('a'));
    expect(table.creates).toHaveLength(2);
    expect(table.batches).toHaveLength(1);
  });

  it('prepares the table at start-up without ever rejecting', async () => {
    const table = fakeTable();
    table.createAnswer = refused(500, 'InternalError', 'down');
    const writer = writerOf(table);
    await expect(writer.prepare()).resolves.toBeUndefined();
    table.createAnswer = undefined;
    await writer.prepare();
    await writer.insertBatch(entities('a'));
    expect(table.creates).toHaveLength(2);
  });

  it('re-creates the table after a write finds it gone (404)', async () => {
    const table = fakeTable();
    const writer = writerOf(table);
    await writer.insertBatch(entities('a'));
    table.batchAnswer = refused(404, 'TableNotFound', 'The table specified does not exist.');
    await expect(writer.insertBatch(entities('b'))).rejects.toMatchObject({ statusCode: 404, code: 'TableNotFound' });
    await writer.insertBatch(entities('b'));
    expect(table.creates).toHaveLength(2);
    // Any other failure keeps the table as made.
    table.batchAnswer = refused(500, 'InternalError', 'busy');
    await expect(writer.insertBatch(entities('c'))).rejects.toMatchObject({ statusCode: 500 });
    await writer.insertBatch(entities('c'));
    expect(table.creates).toHaveLength(2);
  });

  it('names the rejected entity (conflict only for 409), and passes on an index outside the batch as is', async () => {
    const table = fakeTable();
    const writer = writerOf(table);
    table.batchAnswer = refusedInBatch(409, 'EntityAlreadyExists', '1:The specified entity already exists.\nRequestId:r1');
    const conflict = await writer.insertBatch(entities('a', 'b')).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(EntityRejectedError);
    expect(conflict).toMatchObject({ index: 1, conflict: true, cause: { statusCode: 409, code: 'EntityAlreadyExists' } });
    expect((conflict as EntityRejectedError).cause).toBeInstanceOf(RestError);
    table.batchAnswer = refusedInBatch(400, 'InvalidInput', '0:Bad key');
    expect(await writer.insertBatch(entities('a')).catch((e: unknown) => e)).toMatchObject({ index: 0, conflict: false });
    table.batchAnswer = refusedInBatch(400, 'InvalidInput', '2:Bad key');
    const outside = await writer.insertBatch(entities('a', 'b')).catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(RestError);
    expect(outside).toMatchObject({ statusCode: 400, message: '2:Bad key' });
  });
});

describe('TableBatchWriter on the wire', () => {
  it('sends its batches over the connection the SDK made the table on (no new TLS handshake on the first issuance), and over plain HTTP only when told', async () => {
    let connections = 0;
    const seen: string[] = [];
    const server = createHttpServer((req, res) => {
      seen.push(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`);
      req.resume().on('end', () => {
        if (req.url?.includes('$batch')) res.writeHead(202, { 'content-type': 'multipart/mixed; boundary=batchresponse_1' }).end('--batchresponse_1--\r\n');
        else res.writeHead(204).end();
      });
    }).on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const key = Buffer.alloc(64, 1).toString('base64');
      const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};TableEndpoint=http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1;`;
      const writer = new TableBatchWriter(TableClient.fromConnectionString(connectionString, 'audit', { allowInsecureConnection: true }), { allowInsecureConnection: true });
      await writer.prepare();
      await writer.insertBatch(entities('a'));
      await writer.insertBatch(entities('b', 'c'));
      expect(seen).toEqual(['POST /devstoreaccount1/Tables', 'POST /devstoreaccount1/$batch', 'POST /devstoreaccount1/$batch']);
      expect(connections).toBe(1);
      // Plain HTTP only when said so: a writer not told the client allows it sends nothing.
      const unsure = new TableBatchWriter(TableClient.fromConnectionString(connectionString, 'audit', { allowInsecureConnection: true }));
      await expect(unsure.insertBatch(entities('d'))).rejects.toThrow(/allowInsecureConnection/);
      expect(seen.filter((s) => s.endsWith('$batch'))).toHaveLength(2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('tableAuditReader', () => {
  it('asks one partition and RowKey range, each filter as an OData string literal', async () => {
    const filters: string[] = [];
    const client = {
      listEntities: (options: { queryOptions: { filter: string } }) => {
        filters.push(options.queryOptions.filter);
        return (function* () {
          yield { partitionKey: 'p', rowKey: 'r1' };
        })();
      },
    } as unknown as TableClient;
    const reader = tableAuditReader(client);
    const rows = [];
    for await (const row of reader.list('20261129-01', '20261129T00', '20261129T01', {})) rows.push(row);
    expect(rows).toEqual([{ partitionKey: 'p', rowKey: 'r1' }]);
    for await (const _ of reader.list('p', 'a', 'b', { outcome: 'issued', caller_tid: "x'y", workspace: 'w', request_id: 'q', token_id: 't', token_fingerprint: 'f', caller_oid: 'o', caller_appid: 'c', caller: "u'v" })) void _;
    expect(filters).toEqual([
      "PartitionKey eq '20261129-01' and RowKey ge '20261129T00' and RowKey lt '20261129T01'",
      "PartitionKey eq 'p' and RowKey ge 'a' and RowKey lt 'b' and outcome eq 'issued' and caller_tid eq 'x''y' and caller_oid eq 'o' and caller_appid eq 'c'" +
        " and workspace eq 'w' and request_id eq 'q' and token_id eq 't' and token_fingerprint eq 'f' and (caller_oid eq 'u''v' or caller_appid eq 'u''v')",
    ]);
  });
});

function issued(id: string): AuditRecord {
  return { request_id: id, time: '2026-11-29T12:00:00.000Z', outcome: 'issued', status: 200, code: 'issued', latency_ms: 1 };
}

/** A store that keeps every batch in memory, or fails while `down` is set. */
function memoryWriter(): BatchWriter & { batches: AuditEntity[][]; down: boolean; prepared: number } {
  const w = {
    batches: [] as AuditEntity[][],
    down: false,
    prepared: 0,
    insertBatch: (batch: readonly AuditEntity[]) => (w.down ? Promise.reject(restError(503, 'down')) : (w.batches.push([...batch]), Promise.resolve())),
    prepare: () => ((w.prepared += 1), Promise.resolve()),
  };
  return w;
}

describe('TableAuditSink', () => {
  it('tells health each issuance outcome through options.onOutcome too', async () => {
    const writer = memoryWriter();
    const outcomes: boolean[] = [];
    const sink = new TableAuditSink(writer, undefined, undefined, { onOutcome: (ok) => outcomes.push(ok) });
    try {
      await sink.record(issued('a'));
      writer.down = true;
      await expect(sink.record(issued('b'))).rejects.toMatchObject({ name: 'AuditUnavailableError' });
    } finally {
      sink.close();
    }
    expect(outcomes).toEqual([true, false]);
    expect(writer.batches.flat().map((e) => e.rowKey)).toEqual(['20261129T120000.000Z_a']);
  });

  it('prepares the store at start-up, and resolves when the store needs no preparing', async () => {
    const writer = memoryWriter();
    const sink = new TableAuditSink(writer);
    await sink.prepare();
    sink.close();
    expect(writer.prepared).toBe(1);
    const bare = new TableAuditSink({ insertBatch: () => Promise.resolve() });
    await expect(bare.prepare()).resolves.toBeUndefined();
    bare.close();
  });

  it('writes issuance rows into issuance partitions and refusals into refusal partitions', async () => {
    const writer = memoryWriter();
    const sink = new TableAuditSink(writer);
    await sink.record(issued('i'));
    await sink.record({ ...issued('g'), outcome: 'grant_created', code: 'grant_created' });
    await sink.record({ ...issued('d'), outcome: 'denied', status: 403, code: 'not_granted' });
    await sink.drain();
    sink.close();
    const byKind = writer.batches.flat().map((e) => [String(e.request_id), /-r\d$/.test(e.partitionKey) ? 'refusal' : 'issuance']);
    expect(byKind.sort()).toEqual([['d', 'refusal'], ['g', 'issuance'], ['i', 'issuance']]);
  });

  it('reports a batch to telemetry (rows and a table dependency span) when telemetry is on', async () => {
    const writer = memoryWriter();
    const seen: string[] = [];
    const telemetry: Telemetry = {
      ...NO_TELEMETRY,
      enabled: true,
      auditBatch: (kind, rows) => void seen.push(`batch ${kind} ${rows}`),
      dependency: (dependency, operation, run) => (seen.push(`${dependency} ${operation}`), run()),
    };
    const sink = new TableAuditSink(writer, undefined, undefined, { telemetry });
    await sink.record(issued('i'));
    await sink.record({ ...issued('d'), outcome: 'denied', status: 401, code: 'invalid_token' });
    await sink.drain();
    sink.close();
    expect(seen).toEqual(['batch issuance 1', 'table insert batch', 'batch refusal 1', 'table insert batch']);
    expect(writer.batches).toHaveLength(2);
  });

  it('logs a failed background refusal write as a sanitized warning by default', async () => {
    const writer = memoryWriter();
    writer.down = true;
    const warned: string[] = [];
    const original = console.warn;
    console.warn = (line: string) => void warned.push(line);
    try {
      const sink = new TableAuditSink(writer);
      await sink.record({ ...issued('d'), outcome: 'denied', status: 401, code: 'invalid_token', source_ip: '203.0.113.9' });
      await sink.drain();
      sink.close();
    } finally {
      console.warn = original;
    }
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0] ?? '')).toMatchObject({ level: 'warn', message: 'audit record of a refusal could not be written', error: { statusCode: 503 } });
    expect(warned[0]).not.toContain('203.0.113.9');
  });

  it('drain writes the summary of a refusal minute still open', async () => {
    const writer = memoryWriter();
    const sink = new TableAuditSink(writer, undefined, undefined, { refusals: { perKeyPerMinute: 1 } });
    const denied = (id: string): AuditRecord => ({ ...issued(id), outcome: 'denied', status: 401, code: 'invalid_token', source_ip: '192.0.2.1' });
    await sink.record(denied('a'));
    await sink.record(denied('b'));
    await sink.drain();
    sink.close();
    expect(writer.batches.flat().map((e) => [e.outcome, e.suppressed_count])).toEqual([['denied', undefined], ['refusals_summary', 1]]);
  });

  it('drain with no time left returns at once, with a write still pending', async () => {
    const sink = new TableAuditSink({ insertBatch: () => new Promise<void>(() => undefined) });
    void sink.record(issued('stuck')).catch(() => undefined);
    // The clock stands still: only a drain that does not wait can return.
    vi.useFakeTimers();
    try {
      let returned = false;
      void sink.drain(0).then(() => (returned = true));
      for (let i = 0; i < 10; i++) await Promise.resolve();
      expect(returned).toBe(true);
    } finally {
      vi.useRealTimers();
      sink.close();
    }
  });

  it('drain gives up at its deadline when the store never answers', async () => {
    const sink = new TableAuditSink({ insertBatch: () => new Promise<void>(() => undefined) });
    void sink.record(issued('stuck')).catch(() => undefined);
    const started = Date.now();
    await sink.drain(50);
    sink.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe('TableAuditSink scheduling', () => {
  it('lets a row through once hung batches have held their slots past slotTimeoutMs', async () => {
    const written: string[] = [];
    const writer: BatchWriter = {
      insertBatch: (batch) => (batch.some((e) => e.rowKey.includes('stuck')) ? new Promise<void>(() => undefined) : (written.push(...batch.map((e) => e.rowKey)), Promise.resolve())),
    };
    const sink = new TableAuditSink(writer, undefined, undefined, { slotTimeoutMs: 20 });
    // Two batches the store never answers, one after the other (each cut once the one before gave up its slot)…
    void sink.record(issued('stuck1')).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 40));
    void sink.record(issued('stuck2')).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 40));
    // …and the row after them still goes out.
    const next = sink.record(issued('next'));
    const verdict = await Promise.race([next.then(() => 'written'), new Promise((r) => setTimeout(() => r('still waiting'), 5_000).unref())]);
    sink.close();
    expect(verdict).toBe('written');
    expect(written).toEqual(['20261129T120000.000Z_next']);
  });

  it('writes refusals one batch at a time', async () => {
    const calls: (() => void)[] = [];
    const writer: BatchWriter = { insertBatch: () => new Promise<void>((resolve) => calls.push(resolve)) };
    const sink = new TableAuditSink(writer);
    await sink.record({ ...issued('d1'), outcome: 'denied', status: 401, code: 'invalid_token', source_ip: '192.0.2.1' });
    await sink.record({ ...issued('d2'), outcome: 'denied', status: 401, code: 'invalid_token', source_ip: '192.0.2.2' });
    expect(calls).toHaveLength(1);
    calls[0]?.();
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(2);
    calls[1]?.();
    await sink.drain();
    sink.close();
  });

  it('drain waits for an issuance still being written', async () => {
    let release = (): void => undefined;
    const written: string[] = [];
    const writer: BatchWriter = {
      insertBatch: (batch) => new Promise<void>((resolve) => (release = () => (written.push(...batch.map((e) => String(e.request_id))), resolve()))),
    };
    const sink = new TableAuditSink(writer);
    const row = sink.record(issued('slow'));
    setTimeout(() => release(), 30);
    await sink.drain();
    sink.close();
    expect(written).toEqual(['slow']);
    await row;
  });

  it('sweeps finished refusal minutes into summaries every 10 s until closed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const writer = memoryWriter();
      let now = Date.UTC(2026, 10, 29, 12);
      const refusals = { now: () => now, perKeyPerMinute: 1 };
      const denied = (id: string): AuditRecord => ({ ...issued(id), outcome: 'denied', status: 401, code: 'invalid_token', source_ip: '192.0.2.1' });
      const sink = new TableAuditSink(writer, undefined, undefined, { refusals });
      await sink.record(denied('a'));
      await sink.record(denied('b'));
      now += 60_000;
      vi.advanceTimersByTime(10_000);
      await new Promise((r) => setImmediate(r));
      expect(writer.batches.flat().map((e) => e.outcome)).toEqual(['denied', 'refusals_summary']);
      // Closed: the timer no longer sweeps.
      const closed = new TableAuditSink(writer, undefined, undefined, { refusals });
      await closed.record(denied('c'));
      await closed.record(denied('d'));
      closed.close();
      now += 60_000;
      vi.advanceTimersByTime(20_000);
      await new Promise((r) => setImmediate(r));
      expect(writer.batches.flat().map((e) => e.outcome)).toEqual(['denied', 'refusals_summary', 'denied']);
      sink.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

// How many times the audit table client tries a request the service answers 503 (with a
// Retry-After of 0, so no wait): once and two retries, for either kind of configured table.
describe('the audit table client retries twice', () => {
  let dir: string;
  const servers: Server[] = [];
  let requests: string[] = [];
  let httpUrl: string;
  let httpsUrl: string;
  const systemCas = getCACertificates('default');
  const busy = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(503, { 'retry-after': '0', 'content-type': 'application/json' }).end('{"odata.error":{"code":"ServerBusy","message":{"value":"busy"}}}');
  };
  const listen = async (server: Server): Promise<string> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const credential: TokenCredential = { getToken: () => Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const accountKey = Buffer.alloc(64, 1).toString('base64');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbx-vend-audit-retry-'));
    const ca = await createLocalCa(dir);
    setDefaultCACertificates([...systemCas, ca.caPem]);
    httpUrl = `http://${await listen(createHttpServer(busy))}`;
    httpsUrl = `https://${await listen(createHttpsServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, busy))}`;
  }, 60_000);
  afterAll(async () => {
    setDefaultCACertificates(systemCas);
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The retry options are built when the module loads: loaded anew (see loadAnew).
  const fresh = () => loadAnew(() => import('../../src/core/audit/table-audit-sink.js'));

  it('a connection string to a loopback table over plain HTTP (its protocol setting aside): three tries', async () => {
    const { auditTableClient: client } = await fresh();
    requests = [];
    const connectionString = `DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=${accountKey};TableEndpoint=${httpUrl}/devstoreaccount1;`;
    await expect(client({ kind: 'connection-string', connectionString, tableName: 'audit' }, undefined).createTable()).rejects.toMatchObject({ statusCode: 503 });
    expect(requests).toEqual(Array(3).fill('POST /devstoreaccount1/Tables'));
  });

  it('an endpoint signed in with a credential: three tries', async () => {
    const { auditTableClient: client } = await fresh();
    requests = [];
    await expect(client({ kind: 'endpoint', endpoint: httpsUrl, tableName: 'audit' }, credential).createTable()).rejects.toMatchObject({ statusCode: 503 });
    expect(requests).toEqual(Array(3).fill('POST /Tables'));
  });
});
