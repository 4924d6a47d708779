import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuditStore } from '../../src/dev/sandbox/audit-store';
import type { AuditStore } from '../../src/dev/sandbox/audit-store';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { startFlood } from '../support/flood-process';
import { closedLoop, openLoop, percentile, sleep } from '../support/loopback-load';
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
  // This file's own store and the answers it collected are part of the leak scan too.
  stack.haystacks.push(async () => JSON.stringify(await storeRows()), () => Promise.resolve(refusedBodies.join('\n')));
});
const refusedBodies: string[] = [];
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
  for (const s of all) {
    if (s.status === 200) stack.vendedTokens.push(String((JSON.parse(s.body) as { access_token: unknown }).access_token));
    else refusedBodies.push(s.body);
  }
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

describe('refusals cannot starve issuance', () => {
  it('a refusal flood leaves granted callers their success rate, and writes a few rows per caller, not one per refusal', async () => {
    const granted = await Promise.all(Array.from({ length: 40 }, () => stack.callerToken({ claims: { oid: randomUUID() } })));
    const ungranted = await stack.callerToken({ roles: [], claims: { oid: randomUUID() } });
    const body = JSON.stringify({ workspace: 'analytics-sandbox' });
    const vend = { url: `${host.url}/token`, body, headers: (i: number) => ({ authorization: `Bearer ${granted[i % granted.length] ?? ''}` }) };
    // Garbage tokens from 8 client addresses (401, no identity) and a valid caller without a grant (403, then 429).
    const flood = startFlood({ url: `${host.url}/token`, body, perSecond: FLOOD_PER_SECOND, ungranted });
    const phase = async (flooded: boolean): Promise<Sample[]> => {
      flood.set(flooded);
      const mine = await openLoop(vend, GRANTED_PER_SECOND, sleep(PHASE_MS));
      flood.set(false);
      return mine;
    };
    const quiet: Sample[][] = [];
    const loud: Sample[][] = [];
    let floodCounts: Record<string, number>;
    try {
      await phase(false); // warm-up: caches filled, JIT warm
      // Alternating A B B A …: both kinds of phase see the same machine, drift cancels out.
      for (let pair = 0; pair < PAIRS; pair++) {
        for (const flooded of pair % 2 ? [true, false] : [false, true]) (flooded ? loud : quiet).push(await phase(flooded));
      }
    } finally {
      floodCounts = await flood.end();
    }
    const floodAnswers = Object.values(floodCounts).reduce((a, b) => a + b, 0);
    // The machine's own noise in this run: the interquartile range of the unflooded phases' p99s.
    const quietP99s = quiet.map((p) => percentile(p.map((x) => x.ms), 99));
    const noise = percentile(quietP99s, 75) - percentile(quietP99s, 25);
    const figures = { quiet: summarize(quiet), flooded: summarize(loud), noise: round(noise), floodAnswers, floodCounts, floodPerSecond: FLOOD_PER_SECOND };
    const refusals = (await storeRows()).filter((r) => r.outcome === 'denied');
    console.log(`refusal flood: ${JSON.stringify({ ...figures, refusalRowsWritten: refusals.length })}`);
    expect(floodAnswers).toBeGreaterThan(0.8 * FLOOD_PER_SECOND * PAIRS * (PHASE_MS / 1000));
    expect(Object.keys(floodCounts).filter((status) => !['401', '403', '429'].includes(status))).toEqual([]);
    expect(figures.flooded.success).toBeGreaterThanOrEqual(figures.quiet.success * 0.9);
    expect(figures.quiet.success).toBe(1);
    // Latency (p99 within 10 %) is a speed target: `npm run bench` measures it on a quiet machine.
    // Here, on a machine shared with other work, p99 is mostly scheduling; the figures are logged.
    // The flood wrote a few rows per client address and caller, not one per refusal.
    for (let a = 0; a < 8; a++) expect(refusals.filter((r) => r.source_ip === `203.0.113.${a}`).length).toBeLessThanOrEqual(6);
    expect(refusals.length).toBeLessThan(floodAnswers / 10);
  }, 200_000);
});

const PHASE_MS = 1_000;
// Enough phases for the claims checked here (every granted caller served, a few rows per source);
// the latency beside a flood is a speed figure, measured by `npm run bench` on a quiet machine.
const PAIRS = 4;
// Both open loops, well under what one host serves here: latency then shows contention, not a saturated queue.
const GRANTED_PER_SECOND = 25;
const FLOOD_PER_SECOND = 25;

/** Pooled success rate and p50; p99 as the median of the phases' own p99s. */
function summarize(phases: readonly Sample[][]): { requests: number; success: number; p50: number; p99: number; pooledP99: number } {
  const all = phases.flat();
  const ms = all.map((s) => s.ms);
  return {
    requests: all.length,
    success: all.filter((s) => s.status === 200).length / all.length,
    p50: round(percentile(ms, 50)),
    p99: round(percentile(phases.map((p) => percentile(p.map((s) => s.ms), 99)), 50)),
    pooledP99: round(percentile(ms, 99)),
  };
}

const round = (x: number): number => Math.round(x * 10) / 10;
