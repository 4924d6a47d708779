import { performance } from 'node:perf_hooks';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { summarize } from './stats';
import type { Summary } from './stats';
import { vendOnce } from './vend-once';

export interface ColdFigures {
  readonly hosts: number;
  /** First POST /api/token on a fresh host: JWKS discovery, Key Vault read, Entra mint, audit write. */
  readonly firstVendMs: Summary;
  /** Spawn to "listening": process start, module load, config validation. */
  readonly hostStartMs: Summary;
  readonly samplesMs: readonly number[];
  readonly ok2xx: number;
  /** Hosts whose first vend read the secret once and minted once: every host must. */
  readonly hostsWithOneReadAndOneMint: number;
}

/**
 * `count` fresh host processes, one after another; each serves exactly one vend and is stopped.
 * `track` receives each host while it runs, so the caller can stop it if the bench is cut short.
 */
export async function measureColdVends(sandbox: Sandbox, count: number, track: (host: SpawnedHost | undefined) => void): Promise<ColdFigures> {
  const spClientId = sandbox.apps.servicePrincipals['etl-sp'].clientId;
  const firstVend: number[] = [];
  const hostStart: number[] = [];
  let ok2xx = 0;
  let oneReadOneMint = 0;
  for (let i = 0; i < count; i += 1) {
    const callerToken = await sandbox.issueCallerToken();
    sandbox.vault.resetCounters();
    sandbox.authority.resetCounters();
    const spawned = performance.now();
    const host = await spawnHost(sandbox.hostEnv());
    track(host);
    hostStart.push(performance.now() - spawned);
    try {
      const reply = await vendOnce(host.url, callerToken);
      firstVend.push(reply.ms);
      if (reply.status === 200 && reply.hasToken) ok2xx += 1;
      if (sandbox.vault.secretReads('etl-sp-secret') === 1 && sandbox.authority.tokenRequests({ clientId: spClientId }) === 1) oneReadOneMint += 1;
    } finally {
      await host.stop();
      track(undefined);
    }
  }
  const round = (n: number): number => Math.round(n * 10) / 10;
  return {
    hosts: count, firstVendMs: summarize(firstVend), hostStartMs: summarize(hostStart),
    samplesMs: firstVend.map(round), ok2xx, hostsWithOneReadAndOneMint: oneReadOneMint,
  };
}
