import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import type { ProcessSample } from './host-process';
import { runLoad } from './load';
import type { LoadFigures } from './load';
import { vendOnce } from './vend-once';

export interface WarmPlan {
  readonly warmupRequests: number;
  /** Each run is sized to last about this long at the rate of a short probe run before it. */
  readonly targetSeconds: number;
  readonly probeRequestsPerConnection: number;
  readonly connections: readonly number[];
}

export interface WarmRun extends LoadFigures {
  /** The host's CPU time (user + system) per reply during the run. */
  readonly hostCpuMsPerRequest: number;
  /** The sizing run before it: its replies count in the audit check, and a failure there fails the bench. */
  readonly probe?: { readonly requests: number; readonly reqPerSec: number; readonly failed: number };
}

export interface WarmFigures {
  readonly firstVendStatus: number;
  readonly warmup: WarmRun;
  readonly runs: readonly WarmRun[];
  /** Upstream calls made by this host over its whole life (first vend, warm-up and every run). */
  readonly upstream: { readonly keyVaultSecretReads: number; readonly spTokenRequests: number; readonly appTokenRequests: number };
  readonly memory: { readonly afterStart: ProcessSample; readonly afterWarmup: ProcessSample; readonly afterLoad: ProcessSample };
  /** 2xx replies this host gave: first vend, warm-up, probes and runs. */
  readonly ok2xx: number;
}

async function measuredRun(pool: CallerPool, pid: number, url: string, connections: number, amount: number): Promise<{ run: WarmRun; after: ProcessSample }> {
  const before = await sampleProcess(pid);
  const figures = await runLoad(pool, { url, connections, amount });
  const after = await sampleProcess(pid);
  const hostCpuMsPerRequest = Math.round(((after.cpuSeconds - before.cpuSeconds) * 1000 / Math.max(1, figures.requests)) * 100) / 100;
  return { run: { ...figures, hostCpuMsPerRequest }, after };
}

/** For each connection count: a short probe run sizes a measured run of about `targetSeconds`. */
async function loadAtEachConcurrency(pool: CallerPool, pid: number, url: string, plan: WarmPlan, afterWarmup: ProcessSample): Promise<{ runs: WarmRun[]; probed2xx: number; afterLoad: ProcessSample }> {
  const runs: WarmRun[] = [];
  let afterLoad = afterWarmup;
  let probed2xx = 0;
  for (const connections of plan.connections) {
    // Rates differ with concurrency, so the probe runs at the measured run's own.
    const probe = await runLoad(pool, { url, connections, amount: connections * plan.probeRequestsPerConnection });
    probed2xx += probe.ok2xx;
    const amount = Math.max(connections * 20, Math.round(probe.reqPerSec * plan.targetSeconds));
    const next = await measuredRun(pool, pid, url, connections, amount);
    const failed = probe.non2xx + probe.errors + probe.ok2xx - probe.withToken;
    runs.push({ ...next.run, probe: { requests: probe.requests, reqPerSec: probe.reqPerSec, failed } });
    afterLoad = next.after;
  }
  return { runs, probed2xx, afterLoad };
}

/** One host: started, warmed up, then loaded with each connection count in turn. */
export async function measureWarmHost(sandbox: Sandbox, pool: CallerPool, plan: WarmPlan, track: (host: SpawnedHost) => void, ready?: (host: SpawnedHost) => Promise<void>): Promise<WarmFigures> {
  const host = await spawnHost(sandbox.hostEnv());
  track(host);
  await ready?.(host);
  const { pid } = host;
  const afterStart = await sampleProcess(pid);
  sandbox.vault.resetCounters();
  sandbox.authority.resetCounters();
  const first = await vendOnce(host.url, pool.next());
  const warm = await measuredRun(pool, pid, host.url, 10, plan.warmupRequests);
  const { runs, probed2xx, afterLoad } = await loadAtEachConcurrency(pool, pid, host.url, plan, warm.after);
  const upstream = {
    keyVaultSecretReads: sandbox.vault.secretReads(),
    spTokenRequests: sandbox.authority.tokenRequests({ clientId: sandbox.apps.servicePrincipals['etl-sp'].clientId }),
    appTokenRequests: sandbox.authority.tokenRequests({ clientId: sandbox.apps.vendingApp.clientId }),
  };
  const ok2xx = (first.status === 200 ? 1 : 0) + warm.run.ok2xx + probed2xx + runs.reduce((sum, run) => sum + run.ok2xx, 0);
  return { firstVendStatus: first.status, warmup: warm.run, runs, upstream, memory: { afterStart, afterWarmup: warm.after, afterLoad }, ok2xx };
}
