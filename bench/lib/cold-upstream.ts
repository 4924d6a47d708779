import { performance } from 'node:perf_hooks';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { summarize } from './stats';
import type { Summary } from './stats';
import { vendOnce } from './vend-once';

/** Injected on every request to the sandbox's Key Vault and Entra ID authority (issue 8). */
export const INJECTED = { keyVaultMs: 20, entraMs: 50 } as const;

export interface UpstreamCounts {
  readonly keyVaultSecretReads: number;
  readonly spTokenRequests: number;
  readonly appTokenRequests: number;
}

export interface ColdUpstream {
  readonly injectedMs: typeof INJECTED;
  /** First POST /api/token on fresh hosts, with the latencies injected. */
  readonly firstVendMs: Summary;
  readonly firstVendSamplesMs: readonly number[];
  /** Upstream requests the first vend of the last fresh host made. */
  readonly firstVendUpstream: UpstreamCounts;
  /** `concurrent` vends sent at once to one fresh host (distinct callers). */
  readonly concurrent: { readonly requests: number; readonly ok2xx: number; readonly allAnsweredMs: number; readonly upstream: UpstreamCounts };
  readonly ok2xx: number;
}

function counts(sandbox: Sandbox): UpstreamCounts {
  return {
    keyVaultSecretReads: sandbox.vault.secretReads('etl-sp-secret'),
    spTokenRequests: sandbox.authority.tokenRequests({ clientId: sandbox.apps.servicePrincipals['etl-sp'].clientId }),
    appTokenRequests: sandbox.authority.tokenRequests({ clientId: sandbox.apps.vendingApp.clientId }),
  };
}

async function withHost<T>(sandbox: Sandbox, track: (h: SpawnedHost | undefined) => void, use: (h: SpawnedHost) => Promise<T>): Promise<T> {
  const host = await spawnHost(sandbox.hostEnv());
  track(host);
  try {
    return await use(host);
  } finally {
    await host.stop();
    track(undefined);
  }
}

/**
 * Cold vends with Key Vault 20 ms and Entra ID 50 ms away: `hosts` fresh hosts one after another
 * (each one first vend), then `concurrent` simultaneous first vends on one more fresh host, counting
 * what reached Key Vault and Entra ID. The latencies are removed afterwards, whatever happens.
 */
export async function measureColdUpstream(sandbox: Sandbox, pool: CallerPool, plan: { hosts: number; concurrent: number }, track: (h: SpawnedHost | undefined) => void): Promise<ColdUpstream> {
  // The sandbox's fault injection, a delay only: every request answers that much later.
  sandbox.vault.faults.set({ delayMs: INJECTED.keyVaultMs });
  sandbox.authority.faults.set({ delayMs: INJECTED.entraMs });
  try {
    const samples: number[] = [];
    let ok2xx = 0;
    let firstVendUpstream = counts(sandbox);
    for (let i = 0; i < plan.hosts; i += 1) {
      await withHost(sandbox, track, async (host) => {
        sandbox.vault.resetCounters();
        sandbox.authority.resetCounters();
        const reply = await vendOnce(host.url, pool.next());
        samples.push(Math.round(reply.ms * 10) / 10);
        if (reply.status === 200 && reply.hasToken) ok2xx += 1;
        firstVendUpstream = counts(sandbox);
      });
    }
    const concurrent = await withHost(sandbox, track, async (host) => {
      sandbox.vault.resetCounters();
      sandbox.authority.resetCounters();
      const tokens = Array.from({ length: plan.concurrent }, () => pool.next());
      const started = performance.now();
      const replies = await Promise.all(tokens.map((t) => vendOnce(host.url, t)));
      const allAnsweredMs = Math.round(performance.now() - started);
      const ok = replies.filter((r) => r.status === 200 && r.hasToken).length;
      return { requests: plan.concurrent, ok2xx: ok, allAnsweredMs, upstream: counts(sandbox) };
    });
    ok2xx += concurrent.ok2xx;
    return { injectedMs: INJECTED, firstVendMs: summarize(samples), firstVendSamplesMs: samples, firstVendUpstream, concurrent, ok2xx };
  } finally {
    sandbox.vault.faults.clear();
    sandbox.authority.faults.clear();
  }
}
