import { join } from 'node:path';
import type { Sandbox } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import { runLoad } from './load';
import type { LoadFigures } from './load';
import { spawnScript } from './spawn-script';
import { round1, summarize } from './stats';
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
  /** The warm vend's audit batch transactions during the run, as the sandbox's store saw them. */
  readonly auditBatches?: AuditBatches;
}

/**
 * Group commit's cycle: a reply waits for its own row, so a batch holds the rows that arrived while
 * the one before it was out; one cycle is the time the store holds a batch plus the time from its
 * answer to the next batch's arrival (the relay's two hops and the host's turn).
 */
export interface AuditBatches {
  readonly batches: number;
  /** Replies ÷ batches. */
  readonly rowsPerBatch: number;
  /** Median time from a batch's arrival at the store (the sandbox's relay, then azurite) to its answer. */
  readonly heldMs: number;
  /** Median time from one batch's answer to the next batch's arrival. */
  readonly betweenMs: number;
}

/** The cycle's figures from the store's batch timeline of one run. */
export function auditBatches(timeline: readonly { readonly at: number; readonly answeredAt: number }[], replies: number): AuditBatches {
  const done = timeline.filter((b) => Number.isFinite(b.answeredAt)).sort((a, b) => a.at - b.at);
  const between = done.slice(1).map((b, i) => b.at - done[i].answeredAt);
  return {
    batches: timeline.length,
    rowsPerBatch: round1(replies / Math.max(1, timeline.length)),
    heldMs: summarize(done.map((b) => b.answeredAt - b.at)).median,
    betweenMs: summarize(between).median,
  };
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

async function measure(server: ServerRun['server'], round: number, target: { url: string; pid: number }, sandbox: Sandbox, pool: CallerPool, plan: SideBySidePlan): Promise<Measured> {
  const storePid = sandbox.audit.storePid;
  const probe = await runLoad(pool, { url: target.url, connections: plan.connections, amount: plan.connections * plan.probeRequestsPerConnection });
  const amount = Math.max(plan.connections * 20, Math.round(probe.reqPerSec * plan.targetSeconds));
  const [before, storeBefore] = await Promise.all([sampleProcess(target.pid), sampleProcess(storePid)]);
  sandbox.audit.resetBatchTimeline();
  const clientBefore = process.cpuUsage();
  const figures = await runLoad(pool, { url: target.url, connections: plan.connections, amount });
  const client = process.cpuUsage(clientBefore);
  const batches = server === 'warm vend' ? { auditBatches: auditBatches(sandbox.audit.batchTimeline(), figures.requests) } : {};
  const [after, storeAfter] = await Promise.all([sampleProcess(target.pid), sampleProcess(storePid)]);
  const perRequest = (seconds: number): number => Math.round(((seconds * 1000) / Math.max(1, figures.requests)) * 100) / 100;
  return {
    server, round, ...figures, cpuMsPerRequest: perRequest(after.cpuSeconds - before.cpuSeconds),
    storeCpuMsPerRequest: perRequest(storeAfter.cpuSeconds - storeBefore.cpuSeconds), clientCpuMsPerRequest: perRequest((client.user + client.system) / 1e6),
    rssMiBAfter: after.rssMiB, probeOk2xx: probe.ok2xx, ...batches,
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
  await withServer({ BASELINE_BODY: body }, async (bare) => keep(await measure('bare', 0, bare, sandbox, pool, plan)));
  sandbox.vault.resetCounters();
  sandbox.authority.resetCounters();
  let ok2xx = 0;
  const insertEnv = { BASELINE_BODY: body, BASELINE_TABLE_CONNECTION: sandbox.audit.connectionString, BASELINE_TABLE_NAME: 'benchbaseline' };
  await withServer(insertEnv, async (insert) => {
    await runLoad(pool, { url: insert.url, connections: plan.connections, amount: plan.warmUpRequests });
    ok2xx += (await runLoad(pool, { url: host.url, connections: plan.connections, amount: plan.warmUpRequests })).ok2xx;
    for (let round = 1; round <= plan.rounds; round++) {
      keep(await measure('bare + insert', round, insert, sandbox, pool, plan));
      const vend = await measure('warm vend', round, host, sandbox, pool, plan);
      keep(vend);
      // The probe's replies count too: the audit check compares every 2xx the host gave.
      ok2xx += vend.ok2xx + vend.probeOk2xx;
    }
  });
  const warmUpstreamCalls = { keyVaultSecretReads: sandbox.vault.secretReads(), entraTokenRequests: sandbox.authority.tokenRequests() };
  return { figures: { connections: plan.connections, runs, warmUpstreamCalls }, ok2xx };
}
