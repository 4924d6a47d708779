import { TableClient } from '@azure/data-tables';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntity } from '../../src/core/audit/group-commit';
import type * as CommitModule from '../../src/core/audit/group-commit';
import type * as BodyModule from '../../src/core/audit/table-batch-body';
import type * as WriterModule from '../../src/core/audit/table-batch-writer';
import { loadAnew } from '../support/load-anew';
import { NO_CONTENT, changesetAnswer, failedInChangeset, refused } from '../support/table-answers';
import type { TableAnswer } from '../support/table-answers';

// The writer builds the transaction the SDK's `submitTransaction` would send for `create` actions,
// and reads the answer as it would. Both are held to the SDK itself: the same entities through
// `submitTransaction` and through the writer, over one transport that records what each sent and
// gives each the same answer.

// Loaded anew for each test: the wire names and line ending are built when the module loads (see loadAnew).
let fresh: typeof WriterModule & typeof BodyModule & typeof CommitModule;
beforeEach(async () => {
  const writer = await loadAnew(() => import('../../src/core/audit/table-batch-writer.js'));
  fresh = { ...writer, ...(await import('../../src/core/audit/table-batch-body.js')), ...(await import('../../src/core/audit/group-commit.js')) };
});

/** A client over a transport that records each request and answers `$batch` with `reply` (and anything else with 204). */
function recorded(url: string, reply: TableAnswer = changesetAnswer(NO_CONTENT)): { client: TableClient; httpClient: HttpClient; sent: PipelineRequest[] } {
  const sent: PipelineRequest[] = [];
  const httpClient: HttpClient = {
    sendRequest: (request): Promise<PipelineResponse> => {
      sent.push(request);
      const batch = new URL(request.url).pathname.endsWith('/$batch');
      const { status, body, contentType } = batch ? reply : { status: 204, body: '', contentType: 'application/json' };
      return Promise.resolve({ request, status, headers: createHttpHeaders({ 'content-type': contentType }), bodyAsText: body });
    },
  };
  const insecure = url.startsWith('http:');
  return { client: new TableClient(url, 'audit', { httpClient, retryOptions: { maxRetries: 0 }, allowInsecureConnection: insecure }), httpClient, sent };
}

async function sentBySdk(url: string, entities: readonly AuditEntity[], reply?: TableAnswer): Promise<{ request: PipelineRequest; outcome: unknown }> {
  const { client, sent } = recorded(url, reply);
  const outcome = await client.submitTransaction(entities.map((e) => ['create', { ...e }])).then(
    () => 'written',
    (err: unknown) => err,
  );
  return { request: sent.at(-1) as PipelineRequest, outcome };
}

async function sentByWriter(url: string, entities: readonly AuditEntity[], reply?: TableAnswer): Promise<{ request: PipelineRequest; outcome: unknown }> {
  const { client, httpClient, sent } = recorded(url, reply);
  const writer = new fresh.TableBatchWriter(client, { httpClient, allowInsecureConnection: url.startsWith('http:') });
  const outcome = await writer.insertBatch(entities).then(
    () => 'written',
    (err: unknown) => err,
  );
  return { request: sent.at(-1) as PipelineRequest, outcome };
}

/** The request with its per-request parts (the two boundary ids, the request id) set to fixed values. */
function comparable(request: PipelineRequest): { method: string; url: string; headers: Record<string, string>; body: string } {
  const headers = request.headers.toJSON();
  const batch = /boundary=batch_([0-9a-f-]{36})$/.exec(headers['content-type'] ?? '')?.[1];
  const body = request.body as string;
  const changeset = /boundary=changeset_([0-9a-f-]{36})\r\n/.exec(body)?.[1];
  expect(batch).toBeDefined();
  expect(changeset).toBeDefined();
  const fixed = (text: string): string => text.replaceAll(batch as string, 'BATCH').replaceAll(changeset as string, 'CHANGESET');
  delete headers['x-ms-client-request-id'];
  return { method: request.method, url: request.url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, fixed(v)])), body: fixed(body) };
}

const URLS = ['https://account.table.example', 'https://account.table.example/', 'http://127.0.0.1:10002/devstoreaccount1', 'https://account.table.example/?sv=2024-11-04&sig=a%2Fb%3D'];

const propertyName = fc.oneof(fc.constantFrom('etag', 'timestamp', 'constructor', 'toString'), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/).filter((n) => n !== 'partitionKey' && n !== 'rowKey'));
const propertyValue = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean());
/** An entity as group commit makes one: its own properties, the keys anywhere among them (the partition key is set last). */
const entity = fc
  .tuple(fc.dictionary(propertyName, propertyValue, { maxKeys: 12 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.nat(), fc.nat())
  .map(([props, rowKey, at, pkAt]) => {
    const entries: [string, string | number | boolean][] = Object.entries(props);
    entries.splice(at % (entries.length + 1), 0, ['rowKey', rowKey]);
    entries.splice(pkAt % (entries.length + 1), 0, ['partitionKey', '20261130-03']);
    return Object.fromEntries(entries) as unknown as AuditEntity;
  });

describe('the insert transaction the writer sends', () => {
  it.each(URLS)('is the request submitTransaction sends for the same create actions (%s)', async (url) => {
    await fc.assert(
      fc.asyncProperty(fc.array(entity, { minLength: 1, maxLength: 6 }), async (entities) => {
        const [sdk, ours] = [await sentBySdk(url, entities), await sentByWriter(url, entities)];
        expect(ours.outcome).toBe('written');
        expect(sdk.outcome).toBe('written');
        expect(comparable(ours.request)).toEqual(comparable(sdk.request));
      }),
      { numRuns: 40 },
    );
  });

  it('puts each row in its own insert, keeps a SAS on $batch only, and never asks for an upsert or merge', () => {
    const { headers, body } = fresh.insertBatchRequest('https://a.example/audit', [{ partitionKey: 'p', rowKey: 'r1', n: 1 }, { partitionKey: 'p', rowKey: 'r2', ok: true }], { batch: 'B', changeset: 'C' });
    expect(headers['Content-Type']).toBe('multipart/mixed; boundary=batch_B');
    expect(body.startsWith('--batch_B\r\ncontent-type: multipart/mixed; boundary=changeset_C\r\n')).toBe(true);
    expect(body.match(/^[A-Z]+ \S+ HTTP\/1\.1$/gm)).toEqual(['POST https://a.example/audit HTTP/1.1', 'POST https://a.example/audit HTTP/1.1']);
    expect(body).toContain('{"PartitionKey":"p","RowKey":"r1","n":1}');
    expect(body).toContain('{"PartitionKey":"p","RowKey":"r2","ok":true}');
    expect(body.endsWith('\r\n--changeset_C--\r\n--batch_B--\r\n')).toBe(true);
  });
});

describe("the writer reads the service's answer as submitTransaction does", () => {
  const rows: AuditEntity[] = ['a', 'b', 'c'].map((rowKey) => ({ partitionKey: 'p', rowKey, outcome: 'issued' }));
  const restOf = (outcome: unknown): unknown => (outcome instanceof fresh.EntityRejectedError ? outcome.cause : outcome);
  const answers: [string, TableAnswer][] = [
    ['every row written', changesetAnswer(NO_CONTENT, NO_CONTENT, NO_CONTENT)],
    ['a key that exists (409, entity 1)', changesetAnswer(failedInChangeset('409 Conflict', 'EntityAlreadyExists', '1:The specified entity already exists.\nRequestId:x'))],
    ['an input refused (400, entity 0)', changesetAnswer(failedInChangeset('400 Bad Request', 'InvalidInput', '0:One of the request inputs is not valid.'))],
    ['an error without an index', changesetAnswer(failedInChangeset('400 Bad Request', 'InvalidInput', 'The batch request body is malformed.'))],
    ['a table that is gone (404)', refused(404, 'TableNotFound', 'The table specified does not exist.')],
    ['refused sign-in, not JSON (403)', { status: 403, contentType: 'text/plain', body: 'Forbidden' }],
    ['busy, no body (503)', { status: 503, contentType: 'application/json', body: '' }],
    ['an OData error without a message', { status: 400, contentType: 'application/json', body: JSON.stringify({ 'odata.error': { code: 'InvalidInput' } }) }],
    ['JSON without an OData error', { status: 500, contentType: 'application/json', body: '{"error":"busy"}' }],
    ['JSON null', { status: 500, contentType: 'application/json', body: 'null' }],
    // Every status the SDK takes for success (2xx), and the nearest ones it does not.
    ['200 instead of 202', { ...changesetAnswer(NO_CONTENT, NO_CONTENT, NO_CONTENT), status: 200 }],
    ['299', { ...changesetAnswer(NO_CONTENT, NO_CONTENT, NO_CONTENT), status: 299 }],
    ['300', refused(300, 'Moved', 'elsewhere')],
    ['199', refused(199, 'Early', 'not yet')],
  ];

  it.each(answers)('%s', async (_, reply) => {
    const [sdk, ours] = [await sentBySdk(URLS[0], rows, reply), await sentByWriter(URLS[0], rows, reply)];
    if (sdk.outcome === 'written') {
      expect(ours.outcome).toBe('written');
      return;
    }
    const [theirs, mine] = [sdk.outcome as { statusCode?: number; code?: string; message: string }, restOf(ours.outcome)];
    expect(mine).toMatchObject({ name: 'RestError', statusCode: theirs.statusCode, code: theirs.code, message: theirs.message });
    // The index the SDK's error names is the entity the writer takes out.
    const index = fresh.failedIndex(theirs);
    if (index === undefined) expect(ours.outcome).toBe(mine);
    else expect(ours.outcome).toMatchObject({ index, conflict: theirs.statusCode === 409 });
  });

  it('fails a changeset whose sub-response has no status line, naming no entity', async () => {
    const reply = changesetAnswer('garbled');
    const [sdk, ours] = [await sentBySdk(URLS[0], rows, reply), await sentByWriter(URLS[0], rows, reply)];
    expect(sdk.outcome).toBeInstanceOf(Error);
    expect(ours.outcome).toBeInstanceOf(Error);
    expect(ours.outcome).not.toBeInstanceOf(fresh.EntityRejectedError);
    expect(fresh.batchFailure(202, reply.body)).toEqual({ statusCode: 202, code: undefined, message: 'unreadable transaction sub-response' });
  });
});
