import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import { runLoad } from './load';
import { round2 } from './stats';

/** One load run against one of the hosts being compared. */
export interface HostRun {
  readonly host: string;
  readonly reqPerSec: number;
  readonly p99Ms: number;
  readonly cpuMsPerRequest: number;
  readonly requests: number;
  readonly failed: number;
}

export interface HostMeans {
  readonly reqPerSec: number;
  readonly cpuMsPerRequest: number;
}

export interface AlternatedRuns {
  readonly connections: number;
  readonly requestsPerRun: number;
  /** In the order taken: A B A B … */
  readonly runs: readonly HostRun[];
  /** Each host's mean req/s and CPU ms/req over its runs, by name. */
  readonly means: Readonly<Record<string, HostMeans>>;
  /** The first (reference) host's largest difference in req/s between its own runs, relative to its mean: the run's noise. */
  readonly noise: number;
  readonly ok2xx: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function run(name: string, host: SpawnedHost, pool: CallerPool, connections: number, amount: number): Promise<HostRun & { ok2xx: number }> {
  const before = await sampleProcess(host.pid);
  const load = await runLoad(pool, { url: host.url, connections, amount });
  const after = await sampleProcess(host.pid);
  const cpuMsPerRequest = round2(((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, load.requests));
  return { host: name, reqPerSec: load.reqPerSec, p99Ms: load.latencyMs.p99, cpuMsPerRequest, requests: load.requests, failed: load.non2xx + load.errors, ok2xx: load.ok2xx };
}

/**
 * Warm hosts compared in one run: `rounds` rounds of one load run per host, in turn (A B A B …),
 * with the same client, so drift on a shared machine falls on each host alike. The first host is
 * the reference; its own run-to-run difference says how large a difference the run can resolve.
 * A scenario (API grants loaded or not, a feature on or off) spawns its hosts and hands them here.
 */
export async function alternateHosts(pool: CallerPool, hosts: readonly { name: string; host: SpawnedHost }[], plan: { connections: number; requests: number; rounds: number }): Promise<AlternatedRuns> {
  const runs: HostRun[] = [];
  let ok2xx = 0;
  for (let round = 0; round < plan.rounds; round += 1) {
    for (const { name, host } of hosts) {
      const { ok2xx: ok, ...figures } = await run(name, host, pool, plan.connections, plan.requests);
      ok2xx += ok;
      runs.push(figures);
    }
  }
  const means = Object.fromEntries(hosts.map(({ name }) => {
    const own = runs.filter((r) => r.host === name);
    return [name, { reqPerSec: Math.round(mean(own.map((r) => r.reqPerSec))), cpuMsPerRequest: round2(mean(own.map((r) => r.cpuMsPerRequest))) }];
  }));
  const reference = runs.filter((r) => r.host === hosts[0]?.name).map((r) => r.reqPerSec);
  const noise = reference.length < 2 ? 0 : round2((Math.max(...reference) - Math.min(...reference)) / Math.max(1, mean(reference)));
  return { connections: plan.connections, requestsPerRun: plan.requests, runs, means, noise, ok2xx };
}
