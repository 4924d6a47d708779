import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuditStore } from '../../src/dev/sandbox/audit-store';
import type { AuditStore } from '../../src/dev/sandbox/audit-store';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { closedLoop, sleep } from '../support/loopback-load';
import type { Sample } from '../support/loopback-load';
import { Stack } from './harness';

// Group commit under load, against a store of this file's own (so its rows can be counted exactly).
let stack: Stack;
let store: AuditStore;
let dir: string;
let host: SpawnedHost;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-e2e-'));
  [stack, store] = await Promise.all([Stack.start(), startAuditStore(dir, true)]);
  host = await stack.host({ AUDIT_CONNECTION_STRING: store.connectionString, AUDIT_TABLE_NAME: store.tableName });
});
afterAll(async () => {
  try {
    await stack?.finish();
  } finally {
    await store?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

async function storeRows(): Promise<Record<string, unknown>[]> {
  const client = TableClient.fromConnectionString(store.connectionString, store.tableName, { allowInsecureConnection: true });
  const rows: Record<string, unknown>[] = [];
  for await (const row of client.listEntities()) rows.push(row);
  return rows;
}

/** Waits (polling the live sample list) until `done` holds; fails after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Vends over 24 connections while `fault` is switched on and off mid-load, after enough answers of
 * each kind; returns every answer.
 */
async function vendThroughFault(tag: string, fault: (on: boolean) => void): Promise<Sample[]> {
  const token = await stack.callerToken({ claims: { oid: randomUUID() } });
  const samples: Sample[] = [];
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const run = closedLoop(
    { url: `${host.url}/token`, body: JSON.stringify({ workspace: 'analytics-sandbox' }), headers: (i) => ({ authorization: `Bearer ${token}`, 'x-request-id': `${tag}-${i}` }) },
    24,
    stopped,
    samples,
  );
  try {
    const count = (status: number): number => samples.filter((s) => s.status === status).length;
    await until(() => count(200) >= 80, 60_000, '80 vends before the fault');
    fault(true);
    const before = count(200);
    await until(() => count(503) >= 40, 60_000, '40 answers during the fault');
    fault(false);
    await until(() => count(200) >= before + 80, 60_000, '80 vends after the fault');
  } finally {
    fault(false);
    stop();
  }
  const all = await run;
  for (const s of all) if (s.status === 200) stack.vendedTokens.push(String((JSON.parse(s.body) as { access_token: unknown }).access_token));
  return all;
}

function expectFailClosed(samples: readonly Sample[]): void {
  const other = samples.filter((s) => s.status !== 200 && s.status !== 503);
  expect(other.map((s) => s.status)).toEqual([]);
  for (const s of samples.filter((x) => x.status === 503)) {
    expect(JSON.parse(s.body)).toMatchObject({ code: 'audit_unavailable' });
    expect(s.body).not.toMatch(/access_token|eyJ|dapi/);
  }
}

const requestIdOf = (s: Sample): string => String((JSON.parse(s.body) as { request_id: unknown }).request_id);

describe('group commit, fail closed', () => {
  it('batch writes failing mid-load: every affected request 503 with no token, audit rows = 200 answers', async () => {
    const batchesBefore = store.batchesForwarded();
    const samples = await vendThroughFault('failed-batches', (on) => store.failWrites(on));
    expectFailClosed(samples);
    const ok = samples.filter((s) => s.status === 200);
    const issued = (await storeRows()).filter((r) => r.outcome === 'issued' && String(r.request_id).startsWith('failed-batches-'));
    expect(issued.length).toBe(ok.length);
    expect(new Set(issued.map((r) => r.request_id))).toEqual(new Set(ok.map(requestIdOf)));
    // Rows of concurrent vends shared transactions: far fewer batches than rows.
    const batches = store.batchesForwarded() - batchesBefore;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(issued.length / 2);
  }, 200_000);

  it('the connection to the store cut mid-load: every non-200 is 503 with no token; every 200 has its row', async () => {
    const samples = await vendThroughFault('cut', (on) => store.setDown(on));
    expectFailClosed(samples);
    const ok = samples.filter((s) => s.status === 200);
    const issuedIds = new Set((await storeRows()).filter((r) => r.outcome === 'issued').map((r) => r.request_id));
    // A batch that landed just as the connection was cut has rows for requests answered 503:
    // more rows than tokens is the safe side; a token without its row would be the failure.
    for (const s of ok) expect(issuedIds.has(requestIdOf(s))).toBe(true);
  }, 200_000);
});
