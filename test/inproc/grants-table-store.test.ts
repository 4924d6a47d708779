import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AzureNamedKeyCredential, TableClient, generateTableSas } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { describe, expect, inject, it, vi } from 'vitest';
import { z } from 'zod';
import { ConflictError, UpstreamUnavailableError } from '../../src/core/errors';
import { TableGrantStore } from '../../src/core/azure';
import { apiGrantSchema, grantRequestSchema } from '../../src/core/grants';
import type { ApiGrant } from '../../src/core/grants';
import { startTcpProxy } from '../../src/dev/sandbox/tcp-proxy';
import { loadAnew } from '../support/load-anew';
import type { SandboxInfo } from '../support/sandbox-global-setup';

// The grants table adapter against the run's azurite, through the real SDK: a fresh table per
// test (the adapter creates it on first write), conditional replace, rows that do not parse.

const TENANT = 'c0c0c0c0-0000-4000-8000-000000000001';
const unusedCredential: TokenCredential = { getToken: () => Promise.reject(new Error('connection string in use')) };

function fresh(): { store: TableGrantStore; client: TableClient } {
  const sb: SandboxInfo = inject('sandbox');
  const connectionString = sb.hostEnv.AUDIT_CONNECTION_STRING ?? '';
  const tableName = `grants${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  return {
    store: new TableGrantStore({ kind: 'connection-string', connectionString, tableName }, unusedCredential),
    client: TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true }),
  };
}

function grant(id: string, over: Partial<ApiGrant> = {}): ApiGrant {
  const actor = { tid: TENANT, oid: 'o', appid: 'a', kind: 'user' as const };
  return {
    id, workspace: 'prod', callers: { roles: [], appIds: ['aaaaaaaa-0000-4000-8000-000000000003'], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 600, managementToken: false,
    expiresAt: '2027-01-01T00:00:00.000Z', reason: 'r', createdBy: actor, createdAt: '2026-01-01T00:00:00.000Z', state: 'active', ...over,
  };
}

describe('TableGrantStore over azurite', () => {
  it('creates its table on first write, stores kind/id/workspace/state columns, and reads the document back', async () => {
    const { store, client } = fresh();
    expect(await store.list('grant', apiGrantSchema)).toEqual([]);
    await store.insert('grant', grant('g1'));
    const got = await store.get('grant', 'g1', apiGrantSchema);
    expect(got?.item).toEqual(grant('g1'));
    expect(got?.etag).toMatch(/\S/);
    const entity = await client.getEntity<Record<string, unknown>>('grant', 'g1');
    expect({ workspace: entity.workspace, state: entity.state }).toEqual({ workspace: 'prod', state: 'active' });
    expect(JSON.parse(entity.doc as string)).toEqual(grant('g1'));
    expect(await store.get('grant', 'nope', apiGrantSchema)).toBeUndefined();
    expect(await store.get('request', 'g1', grantRequestSchema)).toBeUndefined();
    expect(await store.list('request', grantRequestSchema)).toEqual([]);
  });

  it('replace succeeds with the etag read and is a 409 conflict with a stale one', async () => {
    const { store } = fresh();
    await store.insert('grant', grant('g1'));
    const read = await store.get('grant', 'g1', apiGrantSchema);
    await store.replace('grant', grant('g1', { state: 'revoked' }), read?.etag ?? '');
    expect((await store.get('grant', 'g1', apiGrantSchema))?.item.state).toBe('revoked');
    const err = await store.replace('grant', grant('g1', { reason: 'late' }), read?.etag ?? '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((await store.get('grant', 'g1', apiGrantSchema))?.item.reason).toBe('r');
  });

  it('a second insert of the same id fails and keeps the first', async () => {
    const { store } = fresh();
    await store.insert('grant', grant('g1'));
    await expect(store.insert('grant', grant('g1', { reason: 'second' }))).rejects.toThrow(UpstreamUnavailableError);
    expect((await store.get('grant', 'g1', apiGrantSchema))?.item.reason).toBe('r');
  });

  it('skips rows that do not parse or whose id is not their RowKey: a hand-edited row admits no one', async () => {
    const { store, client } = fresh();
    await store.insert('grant', grant('good'));
    await client.createEntity({ partitionKey: 'grant', rowKey: 'bad-json', workspace: 'prod', state: 'active', doc: '{not json' });
    await client.createEntity({ partitionKey: 'grant', rowKey: 'bad-schema', workspace: 'prod', state: 'active', doc: JSON.stringify({ ...grant('bad-schema'), modes: ['root'] }) });
    await client.createEntity({ partitionKey: 'grant', rowKey: 'moved', workspace: 'prod', state: 'active', doc: JSON.stringify(grant('elsewhere')) });
    await client.createEntity({ partitionKey: 'grant', rowKey: 'no-doc', workspace: 'prod', state: 'active', doc: 42 });
    const listed = await store.list('grant', apiGrantSchema);
    expect(listed.map((r) => r.item.id)).toEqual(['good']);
    for (const id of ['bad-json', 'bad-schema', 'moved', 'no-doc']) expect(await store.get('grant', id, apiGrantSchema), id).toBeUndefined();
  });

  it('an unreachable table is 503 upstream_unavailable, with no account detail in the message', async () => {
    const store = new TableGrantStore({ kind: 'connection-string', connectionString: 'DefaultEndpointsProtocol=http;AccountName=secretacct;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:9/secretacct;', tableName: 'grants' }, unusedCredential);
    const err = await store.list('grant', apiGrantSchema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toBe('The grants table could not be reached. Retry later.');
    expect(JSON.stringify(err)).not.toContain('secretacct');
  });
  it('reads only the rows of the kind asked for, whatever the schema would accept', async () => {
    const { store } = fresh();
    await store.insert('grant', grant('g1'));
    await store.insert('request', { id: 'r1', workspace: 'prod', state: 'pending' });
    const anyDoc = z.looseObject({ id: z.string() });
    expect((await store.list('grant', anyDoc)).map((r) => r.item.id)).toEqual(['g1']);
    expect((await store.list('request', anyDoc)).map((r) => r.item.id)).toEqual(['r1']);
    expect(await store.get('request', 'g1', anyDoc)).toBeUndefined();
  });

  it('replace of a row that is not there is 503 (not a conflict), with only the status kept as the cause', async () => {
    const { store } = fresh();
    await store.insert('grant', grant('g1'));
    const stale = await store.replace('grant', grant('g1', { reason: 'x' }), 'W/"datetime\'2020-01-01T00%3A00%3A00.0000000Z\'"').catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect((stale as ConflictError).detail).toBe('It changed meanwhile; read it again and retry.');
    const err = await store.replace('grant', grant('missing'), '*').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    const cause = (err as Error).cause as Error & { statusCode?: number };
    expect({ name: cause.name, message: cause.message, statusCode: cause.statusCode }).toEqual({ name: 'GrantStoreError', message: 'grants table request failed', statusCode: 404 });
  });

  it('a table that never answers: each call gives up at its deadline with a 503 and aborts its request (the table\'s creation, a read, a write)', async () => {
    // Answers the table's creation ("exists already") and holds every other request open,
    // noting each one its client aborted.
    const aborted: string[] = [];
    let hangCreate = true;
    const server = createServer((req, res) => {
      const what = `${req.method ?? ''} ${(req.url ?? '').replace(/\?.*$/, '')}`;
      if (req.method === 'POST' && /\/Tables$/.test(req.url?.replace(/\?.*$/, '') ?? '') && !hangCreate) {
        res.writeHead(409, { 'Content-Type': 'application/json', 'x-ms-error-code': 'TableAlreadyExists' });
        res.end(JSON.stringify({ 'odata.error': { code: 'TableAlreadyExists', message: { lang: 'en-US', value: 'The table specified already exists.' } } }));
        return;
      }
      req.resume();
      res.on('close', () => {
        if (!res.writableEnded) aborted.push(what);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    try {
      const connectionString = `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:${port}/acct;`;
      const store = new TableGrantStore({ kind: 'connection-string', connectionString, tableName: 'grants' }, unusedCredential, { deadlineMs: 150 });
      const until = (n: number): Promise<void> => vi.waitFor(() => expect(aborted.length).toBeGreaterThanOrEqual(n), { timeout: 2_000, interval: 10 });
      const started = Date.now();
      await expect(store.list('grant', apiGrantSchema)).rejects.toThrow(UpstreamUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_500);
      await until(1);
      expect(aborted[0]).toBe('POST /acct/Tables');
      await expect(store.get('grant', 'g1', apiGrantSchema)).rejects.toThrow(UpstreamUnavailableError);
      await until(2);
      expect(aborted[1]).toMatch(/^GET \/acct\/grants\(PartitionKey='grant',RowKey='g1'\)$/);
      hangCreate = false;
      await expect(store.insert('grant', grant('g2'))).rejects.toThrow(UpstreamUnavailableError);
      await until(3);
      expect(aborted[2]).toBe('POST /acct/grants');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('get on an unreachable table is 503, never "no such grant"', async () => {
    const store = new TableGrantStore({ kind: 'connection-string', connectionString: 'DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:9/acct;', tableName: 'grants' }, unusedCredential);
    await expect(store.get('grant', 'g1', apiGrantSchema)).rejects.toThrow(UpstreamUnavailableError);
  });

  it('talks plain http to a loopback table endpoint (the local emulator), whatever the default protocol says', async () => {
    const connectionString = inject('sandbox').hostEnv.AUDIT_CONNECTION_STRING ?? '';
    const endpoint = /TableEndpoint=http:\/\/127\.0\.0\.1(:\d+\/[^;]+);/.exec(connectionString)?.[1];
    expect(endpoint).toBeDefined();
    for (const host of ['127.0.0.1', 'LOCALHOST']) {
      const local = connectionString.replace('DefaultEndpointsProtocol=http;', 'DefaultEndpointsProtocol=https;').replace(/TableEndpoint=[^;]+;/, `TableEndpoint=http://${host}${endpoint ?? ''};`);
      const store = new TableGrantStore({ kind: 'connection-string', connectionString: local, tableName: `grants${randomUUID().replace(/-/g, '').slice(0, 20)}` }, unusedCredential);
      await store.insert('grant', grant('g1'));
      expect((await store.get('grant', 'g1', apiGrantSchema))?.item.id, host).toBe('g1');
    }
  });

  it('works when it may write rows but not create tables (in Azure the template creates the table): the refused create is not an error', async () => {
    const { client } = fresh();
    await client.createTable();
    const connectionString = inject('sandbox').hostEnv.AUDIT_CONNECTION_STRING ?? '';
    const part = (name: string): string => new RegExp(`${name}=([^;]+)`).exec(connectionString)?.[1] ?? '';
    // A table SAS: rows of this one table only, no table operations (creating it is a 403).
    const sas = generateTableSas(client.tableName, new AzureNamedKeyCredential(part('AccountName'), part('AccountKey')), { permissions: { add: true, query: true, update: true } });
    const rowsOnly = `TableEndpoint=${part('TableEndpoint')};SharedAccessSignature=${sas}`;
    expect(await TableClient.fromConnectionString(rowsOnly, client.tableName, { allowInsecureConnection: true }).createTable().catch((e: unknown) => (e as { statusCode?: number }).statusCode)).toBe(403);
    const store = new TableGrantStore({ kind: 'connection-string', connectionString: rowsOnly, tableName: client.tableName }, unusedCredential);
    await store.insert('grant', grant('g1'));
    expect((await store.get('grant', 'g1', apiGrantSchema))?.item.id).toBe('g1');
  });

  it('a table create that failed is tried again: once the table is reachable, the store creates it and works', async () => {
    const connectionString = inject('sandbox').hostEnv.AUDIT_CONNECTION_STRING ?? '';
    const port = Number(/TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(connectionString)?.[1]);
    const proxy = await startTcpProxy(port);
    try {
      const viaProxy = connectionString.replace(/(TableEndpoint=http:\/\/127\.0\.0\.1:)\d+/, `$1${proxy.port}`);
      const tableName = `grants${randomUUID().replace(/-/g, '').slice(0, 20)}`;
      const store = new TableGrantStore({ kind: 'connection-string', connectionString: viaProxy, tableName }, unusedCredential);
      proxy.setDown(true);
      await expect(store.list('grant', apiGrantSchema)).rejects.toBeInstanceOf(UpstreamUnavailableError);
      proxy.setDown(false);
      // The failed create is not remembered as done: the table is created now, then read.
      expect(await store.list('grant', apiGrantSchema)).toEqual([]);
      await store.insert('grant', grant('g1'));
      expect((await store.get('grant', 'g1', apiGrantSchema))?.item.id).toBe('g1');
    } finally {
      await proxy.close();
    }
  });

  it('an unreachable table is given up after two quick retries, well within the deadline, however the store is reached', async () => {
    // Loaded anew: the retry options are built when the module loads.
    const { TableGrantStore: FreshStore } = await loadAnew(() => import('../../src/core/grants/table-grant-store.js'));
    const token: TokenCredential = { getToken: () => Promise.resolve({ token: 'table-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const stores = [
      new FreshStore({ kind: 'connection-string', connectionString: 'DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:9/acct;', tableName: 'grants' }, unusedCredential),
      new FreshStore({ kind: 'endpoint', endpoint: 'https://127.0.0.1:9', tableName: 'grants' }, token),
    ];
    for (const store of stores) {
      const started = Date.now();
      await expect(store.get('grant', 'g1', apiGrantSchema)).rejects.toThrow('The grants table could not be reached. Retry later.');
      // Two retries of 0.2 s and 0.4 s (up to 1 s each); the SDK's default (three, from 0.8 s up) would take over 5 s.
      expect(Date.now() - started).toBeLessThan(3_000);
    }
  });
});
