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
  /** The server process's CPU time (user + system) per reply during the run. */
  readonly cpuMsPerRequest: number;
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
}

/** A vend reply with every token replaced by as many x's: what the bare servers answer. */
export function sameSizeBody(vendReply: string): string {
  return vendReply.replace(/eyJ[A-Za-z0-9_.-]+|dapi[0-9a-f]+/g, (token) => 'x'.repeat(token.length));
}

async function measure(server: ServerRun['server'], target: { url: string; pid: number }, pool: CallerPool, plan: SideBySidePlan): Promise<ServerRun & { probeOk2xx: number }> {
  const probe = await runLoad(pool, { url: target.url, connections: plan.connections, amount: plan.connections * plan.probeRequestsPerConnection });
  const amount = Math.max(plan.connections * 20, Math.round(probe.reqPerSec * plan.targetSeconds));
  const before = await sampleProcess(target.pid);
  const figures = await runLoad(pool, { url: target.url, connections: plan.connections, amount });
  const after = await sampleProcess(target.pid);
  const cpuMsPerRequest = Math.round((((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, figures.requests)) * 100) / 100;
  return { server, ...figures, cpuMsPerRequest, rssMiBAfter: after.rssMiB, probeOk2xx: probe.ok2xx };
}

/**
 * The three servers one after another with the same client (autocannon in this process), the same
 * connections, callers' tokens and request body, each run sized to last about `targetSeconds`:
 * the bare server, the bare server with one Table storage insert per request, and the warm host.
 */
export async function measureSideBySide(
  sandbox: Sandbox, pool: CallerPool, host: SpawnedHost, body: string, plan: SideBySidePlan, track: (s: SpawnedScript | undefined) => void,
): Promise<{ figures: SideBySide; ok2xx: number }> {
  const script = join(__dirname, 'baseline-server.js');
  const runs: ServerRun[] = [];
  const baselines: [ServerRun['server'], Record<string, string>][] = [
    ['bare', { BASELINE_BODY: body }],
    ['bare + insert', { BASELINE_BODY: body, BASELINE_TABLE_CONNECTION: sandbox.audit.connectionString, BASELINE_TABLE_NAME: 'benchbaseline' }],
  ];
  for (const [name, env] of baselines) {
    const server = await spawnScript(script, env);
    track(server);
    try {
      const { probeOk2xx: _probe, ...run } = await measure(name, server, pool, plan);
      runs.push(run);
    } finally {
      await server.stop();
      track(undefined);
    }
  }
  sandbox.vault.resetCounters();
  sandbox.authority.resetCounters();
  const { probeOk2xx, ...vend } = await measure('warm vend', host, pool, plan);
  runs.push(vend);
  const warmUpstreamCalls = { keyVaultSecretReads: sandbox.vault.secretReads(), entraTokenRequests: sandbox.authority.tokenRequests() };
  // The probe's replies count too: the audit check compares every 2xx the host gave.
  return { figures: { connections: plan.connections, runs, warmUpstreamCalls }, ok2xx: vend.ok2xx + probeOk2xx };
}
