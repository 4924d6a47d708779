import { randomUUID } from 'node:crypto';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { TableClient } from '@azure/data-tables';
import type { TransactionAction } from '@azure/data-tables';
import { apiGrantSchema } from '../../src/core/grants';
import type { CallerPool } from './caller-pool';
import { alternateHosts } from './alternate-hosts';
import type { AlternatedRuns, HostMeans } from './alternate-hosts';
import { runLoad } from './load';
import { vendOnce } from './vend-once';

/** The with-grants host reads its own grants table, so no other host of the bench sees these rows. */
const TABLE = 'benchapigrants';

export interface ApiGrantsFigures extends AlternatedRuns {
  readonly apiGrants: number;
  /** Mean req/s and CPU ms/req of each host's runs. */
  readonly without: HostMeans;
  readonly with: HostMeans;
  /** with ÷ without, req/s. */
  readonly ratio: number;
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

/**
 * The sandbox's configuration with the API grants re-read as often as in production (the
 * schema's default, every 10 s), not the sandbox's every 2 s, which tests use to see a change
 * soon: with 1,000 grants each read costs the host their parsing and index, and the store the query.
 */
function productionRefresh(env: Record<string, string>): Record<string, string> {
  const config = JSON.parse(env.VENDING_CONFIG ?? '{}') as { apiGrants?: Record<string, unknown> };
  const { refreshSeconds: _sandboxRefresh, ...apiGrants } = config.apiGrants ?? {};
  return { ...env, VENDING_CONFIG: JSON.stringify({ ...config, apiGrants }) };
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

/**
 * Two warm hosts side by side, one with `count` API grants loaded (its grants cache refreshes in
 * the background as in production), one without; after `warmUpRequests` unmeasured vends each,
 * `rounds` load runs each alternate A B A B … with the same client.
 */
export async function measureApiGrants(
  sandbox: Sandbox, pool: CallerPool, plan: { count: number; connections: number; requests: number; warmUpRequests: number; rounds: number }, track: (h: SpawnedHost | undefined) => void,
): Promise<ApiGrantsFigures> {
  await seed(sandbox, plan.count);
  const env = productionRefresh(sandbox.hostEnv());
  const plain = await spawnHost(env);
  track(plain);
  const loaded = await spawnHost({ ...env, GRANTS_TABLE_NAME: TABLE });
  const stopAll = async (): Promise<void> => {
    await Promise.all([plain.stop(), loaded.stop()]);
    track(undefined);
  };
  try {
    await Promise.all([untilGrantsLoaded(plain.url), untilGrantsLoaded(loaded.url)]);
    for (const h of [plain, loaded]) {
      const first = await vendOnce(h.url, pool.next());
      if (first.status !== 200) throw new Error(`a grants bench host's first vend answered ${first.status}`);
    }
    // Warmed before they are measured, as the side-by-side's hosts are: with two runs each and no
    // warm-up, each host's first run served at 0.42–0.45 ms of CPU a vend against 0.26–0.30 in its
    // second (code V8 had not optimized yet), and the ratio moved between 0.85 and 1.12 from run to run.
    let warmed = 0;
    for (const h of [plain, loaded]) warmed += (await runLoad(pool, { url: h.url, connections: plan.connections, amount: plan.warmUpRequests })).ok2xx;
    const runs = await alternateHosts(pool, [{ name: 'no API grants', host: plain }, { name: 'API grants', host: loaded }], plan);
    const without = runs.means['no API grants'];
    const withGrants = runs.means['API grants'];
    return {
      ...runs, apiGrants: plan.count, without, with: withGrants,
      ratio: Math.round((withGrants.reqPerSec / Math.max(1, without.reqPerSec)) * 100) / 100,
      ok2xx: runs.ok2xx + 2 + warmed,
    };
  } finally {
    await stopAll();
  }
}
