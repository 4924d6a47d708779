import { randomUUID } from 'node:crypto';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { TableClient } from '@azure/data-tables';
import type { TransactionAction } from '@azure/data-tables';
import { apiGrantSchema } from '../../src/core/grants';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import { runLoad } from './load';
import { vendOnce } from './vend-once';

/** The with-grants host reads its own grants table, so no other host of the bench sees these rows. */
const TABLE = 'benchapigrants';

export interface GrantsRun {
  readonly host: 'no API grants' | 'API grants';
  readonly reqPerSec: number;
  readonly p99Ms: number;
  readonly cpuMsPerRequest: number;
  readonly requests: number;
  readonly failed: number;
}

export interface ApiGrantsFigures {
  readonly apiGrants: number;
  readonly connections: number;
  readonly requestsPerRun: number;
  /** Runs in the order taken: A B A B (both hosts up throughout, warm). */
  readonly runs: readonly GrantsRun[];
  /** Mean req/s and CPU ms/req of each host's runs. */
  readonly without: { readonly reqPerSec: number; readonly cpuMsPerRequest: number };
  readonly with: { readonly reqPerSec: number; readonly cpuMsPerRequest: number };
  /** The no-grants host's own run-to-run difference in req/s, relative to its mean: the run's noise. */
  readonly noise: number;
  /** with ÷ without, req/s. */
  readonly ratio: number;
  readonly ok2xx: number;
}

/**
 * `count` API grants on the workspace the bench vends from (the worst case for the lookup: the
 * index is per workspace), each admitting an app none of the bench's callers is, checked against
 * the schema the app loads them with, written as the service writes them (batches of 100).
 */
async function seed(sandbox: Sandbox, count: number): Promise<void> {
  const client = TableClient.fromConnectionString(sandbox.grants.connectionString, TABLE, { allowInsecureConnection: true });
  await client.createTable();
  const now = new Date();
  const actor = { tid: sandbox.tenantId, oid: randomUUID(), appid: randomUUID(), kind: 'user' as const };
  for (let start = 0; start < count; start += 100) {
    const actions: TransactionAction[] = [];
    for (let i = start; i < Math.min(count, start + 100); i += 1) {
      const grant = apiGrantSchema.parse({
        id: randomUUID(), workspace: 'analytics-sandbox', callers: { appIds: [randomUUID()] }, modes: ['aad'], maxLifetimeSeconds: 3600,
        expiresAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(), reason: `bench grant ${i}`, createdBy: actor, createdAt: now.toISOString(), state: 'active',
      });
      actions.push(['create', { partitionKey: 'grant', rowKey: grant.id, workspace: grant.workspace, state: grant.state, doc: JSON.stringify(grant) }]);
    }
    await client.submitTransaction(actions);
  }
}

/** Until the host's health says its grants are read (`grants: ok`), bounded. */
async function untilGrantsLoaded(hostUrl: string, limitMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const health = (await (await fetch(`${hostUrl}/health`)).json()) as { checks?: Record<string, string> };
    if (health.checks?.grants === 'ok') return;
    if (Date.now() - start > limitMs) throw new Error('the host did not read the grants table in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function run(name: GrantsRun['host'], host: SpawnedHost, pool: CallerPool, connections: number, amount: number): Promise<GrantsRun & { ok2xx: number }> {
  const before = await sampleProcess(host.pid);
  const load = await runLoad(pool, { url: host.url, connections, amount });
  const after = await sampleProcess(host.pid);
  const cpuMsPerRequest = Math.round((((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, load.requests)) * 100) / 100;
  return { host: name, reqPerSec: load.reqPerSec, p99Ms: load.latencyMs.p99, cpuMsPerRequest, requests: load.requests, failed: load.non2xx + load.errors, ok2xx: load.ok2xx };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const r2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * Two warm hosts side by side, one with `count` API grants loaded (its grants cache refreshes in
 * the background as in production), one without; load runs alternate A B A B with the same client.
 */
export async function measureApiGrants(sandbox: Sandbox, pool: CallerPool, plan: { count: number; connections: number; requests: number }, track: (h: SpawnedHost | undefined) => void): Promise<ApiGrantsFigures> {
  await seed(sandbox, plan.count);
  const plain = await spawnHost(sandbox.hostEnv());
  track(plain);
  const loaded = await spawnHost({ ...sandbox.hostEnv(), GRANTS_TABLE_NAME: TABLE });
  const stopAll = async (): Promise<void> => {
    await Promise.all([plain.stop(), loaded.stop()]);
    track(undefined);
  };
  try {
    let ok2xx = 0;
    await Promise.all([untilGrantsLoaded(plain.url), untilGrantsLoaded(loaded.url)]);
    for (const h of [plain, loaded]) {
      const first = await vendOnce(h.url, pool.next());
      if (first.status !== 200) throw new Error(`a grants bench host's first vend answered ${first.status}`);
      ok2xx += 1;
    }
    const runs: GrantsRun[] = [];
    for (let i = 0; i < 2; i += 1) {
      for (const [name, h] of [['no API grants', plain], ['API grants', loaded]] as const) {
        const { ok2xx: ok, ...figures } = await run(name, h, pool, plan.connections, plan.requests);
        ok2xx += ok;
        runs.push(figures);
      }
    }
    const of = (name: GrantsRun['host']): GrantsRun[] => runs.filter((r) => r.host === name);
    const summary = (rs: GrantsRun[]): { reqPerSec: number; cpuMsPerRequest: number } => ({ reqPerSec: Math.round(mean(rs.map((r) => r.reqPerSec))), cpuMsPerRequest: r2(mean(rs.map((r) => r.cpuMsPerRequest))) });
    const without = summary(of('no API grants'));
    const withGrants = summary(of('API grants'));
    const [a1, a2] = of('no API grants').map((r) => r.reqPerSec);
    return {
      apiGrants: plan.count, connections: plan.connections, requestsPerRun: plan.requests, runs,
      without, with: withGrants,
      noise: r2(Math.abs((a1 ?? 0) - (a2 ?? 0)) / Math.max(1, without.reqPerSec)),
      ratio: r2(withGrants.reqPerSec / Math.max(1, without.reqPerSec)),
      ok2xx,
    };
  } finally {
    await stopAll();
  }
}
