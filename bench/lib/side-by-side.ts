import { join } from 'node:path';
import type { Sandbox } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import { runLoad } from './load';
import type { LoadFigures } from './load';
import { spawnScript } from './spawn-script';
import type { SpawnedScript } from './spawn-script';

export interface ServerRun extends LoadFigures {
  readonly server: 'bare' | 'bare + insert' | 'warm vend';
  /** 0 for the bare server; the insert server and the warm vend run in rounds 1, 2, … alternately. */
  readonly round: number;
  /** The server process's CPU time (user + system) per reply during the run. */
  readonly cpuMsPerRequest: number;
  /** The store's (azurite's) CPU time per reply during the run: what the audit rows cost it. */
  readonly storeCpuMsPerRequest: number;
  /** This process's CPU time per reply: the load generator and the sandbox's relay in front of the store. */
  readonly clientCpuMsPerRequest: number;
  readonly rssMiBAfter: number;
}

export interface SideBySide {
  readonly connections: number;
  readonly runs: readonly ServerRun[];
  /** Key Vault secret reads and Entra ID token requests made during the warm vend run: must be 0. */
  readonly warmUpstreamCalls: { readonly keyVaultSecretReads: number; readonly entraTokenRequests: number };
}

export interface SideBySidePlan {
  readonly connections: number;
  readonly targetSeconds: number;
  readonly probeRequestsPerConnection: number;
  /** Insert server and warm vend measured alternately this many times: one pair is too noisy here. */
  readonly rounds: number;
  /**
   * Requests each of the two sent, unmeasured, before the first round: V8 optimizes a function only
   * after many calls, and with a few hundred the first round measured both half-compiled (CPU per
   * request 1.6–1.9 × that of the later rounds, for either server).
   */
  readonly warmUpRequests: number;
}

/** A vend reply with every token replaced by as many x's: what the bare servers answer. */
export function sameSizeBody(vendReply: string): string {
  return vendReply.replace(/eyJ[A-Za-z0-9_.-]+|dapi[0-9a-f]+/g, (token) => 'x'.repeat(token.length));
}

type Measured = ServerRun & { probeOk2xx: number };

async function measure(server: ServerRun['server'], round: number, target: { url: string; pid: number }, storePid: number, pool: CallerPool, plan: SideBySidePlan): Promise<Measured> {
  const probe = await runLoad(pool, { url: target.url, connections: plan.connections, amount: plan.connections * plan.probeRequestsPerConnection });
  const amount = Math.max(plan.connections * 20, Math.round(probe.reqPerSec * plan.targetSeconds));
  const [before, storeBefore] = await Promise.all([sampleProcess(target.pid), sampleProcess(storePid)]);
  const clientBefore = process.cpuUsage();
  const figures = await runLoad(pool, { url: target.url, connections: plan.connections, amount });
  const client = process.cpuUsage(clientBefore);
  const [after, storeAfter] = await Promise.all([sampleProcess(target.pid), sampleProcess(storePid)]);
  const perRequest = (seconds: number): number => Math.round(((seconds * 1000) / Math.max(1, figures.requests)) * 100) / 100;
  return {
    server, round, ...figures, cpuMsPerRequest: perRequest(after.cpuSeconds - before.cpuSeconds),
    storeCpuMsPerRequest: perRequest(storeAfter.cpuSeconds - storeBefore.cpuSeconds), clientCpuMsPerRequest: perRequest((client.user + client.system) / 1e6),
    rssMiBAfter: after.rssMiB, probeOk2xx: probe.ok2xx,
  };
}

/**
 * The three servers with the same client (autocannon in this process), the same connections,
 * callers' tokens and request body, each run sized to last about `targetSeconds`: the bare server
 * once, then the bare server with one Table storage insert per request and the warm host in turn,
 * `plan.rounds` times (a single pair moved by ±25 % between runs on this shared machine).
 */
export async function measureSideBySide(
  sandbox: Sandbox, pool: CallerPool, host: SpawnedHost, body: string, plan: SideBySidePlan, track: (s: SpawnedScript | undefined) => void,
): Promise<{ figures: SideBySide; ok2xx: number }> {
  const script = join(__dirname, 'baseline-server.js');
  const storePid = sandbox.audit.storePid;
  const runs: ServerRun[] = [];
  const keep = ({ probeOk2xx: _probe, ...run }: Measured): void => void runs.push(run);
  const withServer = async (env: Record<string, string>, use: (server: SpawnedScript) => Promise<void>): Promise<void> => {
    const server = await spawnScript(script, env);
    track(server);
    try {
      await use(server);
    } finally {
      await server.stop();
      track(undefined);
    }
  };
  await withServer({ BASELINE_BODY: body }, async (bare) => keep(await measure('bare', 0, bare, storePid, pool, plan)));
  sandbox.vault.resetCounters();
  sandbox.authority.resetCounters();
  let ok2xx = 0;
  const insertEnv = { BASELINE_BODY: body, BASELINE_TABLE_CONNECTION: sandbox.audit.connectionString, BASELINE_TABLE_NAME: 'benchbaseline' };
  await withServer(insertEnv, async (insert) => {
    await runLoad(pool, { url: insert.url, connections: plan.connections, amount: plan.warmUpRequests });
    ok2xx += (await runLoad(pool, { url: host.url, connections: plan.connections, amount: plan.warmUpRequests })).ok2xx;
    for (let round = 1; round <= plan.rounds; round++) {
      keep(await measure('bare + insert', round, insert, storePid, pool, plan));
      const vend = await measure('warm vend', round, host, storePid, pool, plan);
      keep(vend);
      // The probe's replies count too: the audit check compares every 2xx the host gave.
      ok2xx += vend.ok2xx + vend.probeOk2xx;
    }
  });
  const warmUpstreamCalls = { keyVaultSecretReads: sandbox.vault.secretReads(), entraTokenRequests: sandbox.authority.tokenRequests() };
  return { figures: { connections: plan.connections, runs, warmUpstreamCalls }, ok2xx };
}
