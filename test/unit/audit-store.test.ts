import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit } from '../../src/core/audit';
import { TableAuditSink, auditTableClient, tableAuditReader } from '../../src/core/azure';
import type { AuditRecord } from '../../src/core/audit';
import { EntityRejectedError, GroupCommitter } from '../../src/core/audit/group-commit';
import type { AuditEntity, BatchWriter } from '../../src/core/audit/group-commit';
import { TableBatchWriter } from '../../src/core/audit/table-batch-writer';
import { AuditUnavailableError } from '../../src/core/errors';
import { startAuditStore } from '../../src/dev/sandbox/audit-store';
import type { AuditStore } from '../../src/dev/sandbox/audit-store';

// Group commit and the partition layout against a real azurite, through the real SDK client.
let store: AuditStore;
let dir: string;
let table: number = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-store-'));
  store = await startAuditStore(dir, true);
});
afterAll(async () => {
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh table per test, and a writer that counts the transactions it sends. */
function freshTable(): { client: TableClient; writer: BatchWriter & { batches: AuditEntity[][] } } {
  table += 1;
  const client = TableClient.fromConnectionString(store.connectionString, `audit${table}x${Date.now() % 100000}`, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  const inner = new TableBatchWriter(client, { allowInsecureConnection: true });
  const batches: AuditEntity[][] = [];
  return { client, writer: { batches, insertBatch: (entities) => (batches.push([...entities]), inner.insertBatch(entities)) } };
}

async function rowsOf(client: TableClient): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const row of client.listEntities()) rows.push(row);
  return rows;
}

function issued(requestId: string, time = new Date().toISOString()): AuditRecord {
  return { request_id: requestId, time, outcome: 'issued', status: 200, code: 'issued', caller_oid: 'oid-1', workspace: 'ws', latency_ms: 3 };
}

function refused(requestId: string, who: Partial<AuditRecord>, time = new Date().toISOString()): AuditRecord {
  return { request_id: requestId, time, outcome: 'denied', status: 401, code: 'invalid_token', latency_ms: 1, ...who };
}

describe('group commit', () => {
  it('writes a lone row at once, into a day + bucket issuance partition', async () => {
    const { client, writer } = freshTable();
    const sink = new TableAuditSink(writer);
    await sink.record(issued('lone'));
    sink.close();
    const rows = await rowsOf(client);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.partitionKey).toMatch(/^\d{8}-0[0-7]$/);
    expect(rows[0]?.rowKey).toMatch(/^\d{8}T\d{6}\.\d{3}Z_lone$/);
  });

  it('groups concurrent rows into batch transactions of one partition, at most 100 each, every row durable', async () => {
    const { client, writer } = freshTable();
    const sink = new TableAuditSink(writer);
    await Promise.all(Array.from({ length: 250 }, (_, i) => sink.record(issued(`r${i}`))));
    sink.close();
    expect(writer.batches.length).toBeLessThan(250 / 10);
    for (const batch of writer.batches) {
      expect(batch.length).toBeLessThanOrEqual(100);
      expect(new Set(batch.map((e) => e.partitionKey)).size).toBe(1);
    }
    expect((await rowsOf(client)).length).toBe(250);
  });

  it('the store names the failed entity by index; the rest are retried without it', async () => {
    const { client, writer } = freshTable();
    const day = '20261129';
    await writer.insertBatch([{ partitionKey: `${day}-00`, rowKey: 'taken', outcome: 'issued' }]);
    const err = await new TableBatchWriter(client, { allowInsecureConnection: true })
      .insertBatch(['a', 'taken', 'b'].map((rowKey) => ({ partitionKey: `${day}-00`, rowKey, outcome: 'issued' })))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntityRejectedError);
    expect(err).toMatchObject({ index: 1, conflict: true });
    // Through the committer: a row whose key exists is kept under a suffixed key; its neighbours land.
    const committer = new GroupCommitter(writer, { kind: 'issuance', buckets: 1 });
    await Promise.all(['c', 'taken', 'd'].map((rowKey) => committer.submit(day, { rowKey, outcome: 'issued' })));
    const keys = (await rowsOf(client)).map((r) => String(r.rowKey)).sort();
    expect(keys).toEqual(['c', 'd', 'taken', expect.stringMatching(/^taken_[0-9a-f]{8}$/) as string]);
  });

  it('a row the store refuses for another reason fails alone; its neighbours are durable', async () => {
    const { client, writer } = freshTable();
    const committer = new GroupCommitter(writer, { kind: 'issuance', buckets: 1, maxInFlight: 1 });
    const block = committer.submit('20261129', { rowKey: 'first', outcome: 'issued' });
    // Queued behind `first`, so these three go in one transaction; the middle one has a key Table storage refuses.
    const results = await Promise.allSettled(['x', 'bad/key', 'y'].map((rowKey) => committer.submit('20261129', { rowKey, outcome: 'issued' })));
    await block;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await rowsOf(client)).map((r) => r.rowKey).sort()).toEqual(['first', 'x', 'y']);
  });

  it('a failed batch rejects every row in it: the sink answers audit_unavailable for each', async () => {
    const { client, writer } = freshTable();
    const sink = new TableAuditSink(writer);
    await sink.record(issued('before'));
    store.failWrites(true);
    try {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sink.record(issued(`during${i}`))));
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AuditUnavailableError)).toBe(true);
    } finally {
      store.failWrites(false);
      sink.close();
    }
    expect((await rowsOf(client)).map((r) => r.rowKey)).toEqual([expect.stringMatching(/_before$/) as string]);
  });
});

describe('the sink on the configured audit table', () => {
  it('writes an issuance through the connection string (plain HTTP to a loopback emulator) and tells health each outcome', async () => {
    const tableName = `auditcfg${Date.now() % 100000}`;
    const outcomes: boolean[] = [];
    const sink = new TableAuditSink({ kind: 'connection-string', connectionString: store.connectionString, tableName }, undefined, (ok) => outcomes.push(ok));
    try {
      await sink.record(issued('configured'));
      store.failWrites(true);
      try {
        await expect(sink.record(issued('while-down'))).rejects.toBeInstanceOf(AuditUnavailableError);
      } finally {
        store.failWrites(false);
      }
    } finally {
      sink.close();
    }
    expect(outcomes).toEqual([true, false]);
    const client = TableClient.fromConnectionString(store.connectionString, tableName, { allowInsecureConnection: true });
    expect((await rowsOf(client)).map((r) => r.request_id)).toEqual(['configured']);
  });

  it('sends the account key over plain HTTP only to a loopback emulator, and needs a credential for an endpoint', async () => {
    const remote = 'DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=' + Buffer.alloc(64, 1).toString('base64') + ';TableEndpoint=http://audit.example.invalid/devstoreaccount1;';
    const client = auditTableClient({ kind: 'connection-string', connectionString: remote, tableName: 'audit' }, undefined);
    await expect(client.createTable()).rejects.toThrow('while allowInsecureConnection is false');
    expect(() => auditTableClient({ kind: 'endpoint', endpoint: 'https://st.table.core.windows.net', tableName: 'audit' }, undefined)).toThrow('a credential is needed for the audit table endpoint');
  });
});

describe('refusals', () => {
  it('go to their own partitions, in the background, at most 3 rows per key a minute, then one summary', async () => {
    const { client, writer } = freshTable();
    let now = Date.now();
    const sink = new TableAuditSink(writer, undefined, undefined, { refusals: { now: () => now } });
    const caller = { caller_tid: 't', caller_oid: 'flooder' };
    for (let i = 0; i < 50; i++) await sink.record(refused(`c${i}`, { ...caller, code: i % 2 ? 'rate_limited' : 'not_granted', status: i % 2 ? 429 : 403 }));
    for (let i = 0; i < 10; i++) await sink.record(refused(`ip${i}`, { source_ip: '192.0.2.7' }));
    await sink.record(issued('granted'));
    now += 61_000;
    await sink.drain();
    sink.close();
    const rows = await rowsOf(client);
    const refusalRows = rows.filter((r) => /^\d{8}-r\d$/.test(String(r.partitionKey)));
    const issuanceRows = rows.filter((r) => /^\d{8}-\d\d$/.test(String(r.partitionKey)));
    expect(issuanceRows.map((r) => r.outcome)).toEqual(['issued']);
    expect(refusalRows.filter((r) => r.outcome === 'denied' && r.caller_oid === 'flooder')).toHaveLength(3);
    expect(refusalRows.filter((r) => r.outcome === 'denied' && r.source_ip === '192.0.2.7')).toHaveLength(3);
    const summaries = refusalRows.filter((r) => r.outcome === 'refusals_summary');
    expect(summaries.map((s) => [s.caller_oid ?? s.source_ip, s.suppressed_count]).sort()).toEqual([
      ['192.0.2.7', 7],
      ['flooder', 47],
    ]);
    expect(summaries.find((s) => s.caller_oid === 'flooder')?.codes).toMatch(/^(not_granted=23,rate_limited=24|rate_limited=24,not_granted=23)$/);
  });

  it('answers at once even when the store is down, and logs the failed write without row values', async () => {
    const { writer } = freshTable();
    const logged: unknown[] = [];
    const sink = new TableAuditSink(writer, undefined, undefined, { onBackgroundError: (e) => logged.push(e) });
    store.failWrites(true);
    try {
      await sink.record(refused('while-down', { source_ip: '198.51.100.1' }));
      await sink.drain();
    } finally {
      store.failWrites(false);
      sink.close();
    }
    expect(logged).toEqual([expect.objectContaining({ name: 'RestError', statusCode: 503 })]);
    expect(JSON.stringify(logged)).not.toContain('198.51.100.1');
  });
});

describe('queryAudit', () => {
  it('reads a time range across days and partitions newest first, with filters and a continuation', async () => {
    const { client, writer } = freshTable();
    const sink = new TableAuditSink(writer);
    const t0 = Date.UTC(2026, 10, 28, 23, 58);
    const times = Array.from({ length: 12 }, (_, i) => new Date(t0 + i * 20_000).toISOString()); // crosses midnight
    for (const [i, time] of times.entries()) await sink.record(i % 3 ? issued(`q${i}`, time) : { ...issued(`q${i}`, time), outcome: 'revoked', code: 'revoked' });
    await sink.drain();
    sink.close();
    const reader = tableAuditReader(client);
    const all = [];
    for await (const { row } of queryAudit(reader, { from: t0, to: t0 + 12 * 20_000, sliceMs: 60_000 })) all.push(row.request_id);
    expect(all).toEqual(times.map((_, i) => `q${i}`).reverse());
    const firstPage: string[] = [];
    let continuation = '';
    for await (const item of queryAudit(reader, { from: t0, to: t0 + 12 * 20_000 })) {
      firstPage.push(String(item.row.request_id));
      continuation = item.continuation;
      if (firstPage.length === 5) break;
    }
    const rest: string[] = [];
    for await (const { row } of queryAudit(reader, { from: t0, to: t0 + 12 * 20_000, continuation })) rest.push(String(row.request_id));
    expect([...firstPage, ...rest]).toEqual(all);
    const revoked: string[] = [];
    for await (const { row } of queryAudit(reader, { from: t0 + 1, to: t0 + 12 * 20_000, filter: { outcome: 'revoked' } })) revoked.push(String(row.request_id));
    expect(revoked).toEqual(['q9', 'q6', 'q3']);
    // Slices read ahead, in parallel, still come out whole and in order.
    const ahead: unknown[] = [];
    for await (const { row } of queryAudit(reader, { from: t0, to: t0 + 12 * 20_000, sliceMs: 60_000, readAhead: 3 })) ahead.push(row.request_id);
    expect(ahead).toEqual(all);
    // `caller` matches either id; an OData quote in a value stays inside its literal.
    const byCaller = async (caller: string): Promise<number> => {
      let n = 0;
      for await (const item of queryAudit(reader, { from: t0, to: t0 + 12 * 20_000, filter: { caller } })) n += item.row.caller_oid === 'oid-1' ? 1 : 0;
      return n;
    };
    expect(await byCaller('oid-1')).toBe(12);
    expect(await byCaller("oid-1' or caller_oid ne 'x")).toBe(0);
  }, 20_000); // about 400 queries to the emulator: well over a second on a busy machine
});
