import { performance } from 'node:perf_hooks';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { threadCpuMs } from './host-process';
import { round1, summarize } from './stats';
import type { Summary } from './stats';
import { vendOnce } from './vend-once';

/** Injected on every request to the sandbox's Key Vault and Entra ID authority (issue 8). */
export const INJECTED = { keyVaultMs: 20, entraMs: 50 } as const;
/** In the "after start-up" runs the first vend is sent this long after the host listens. */
const SETTLE_MS = 1_000;
const AUDIT_KEY_SECRET = 'audit-hmac-key';

export interface UpstreamCounts {
  readonly keyVaultSecretReads: number;
  readonly spTokenRequests: number;
  readonly appTokenRequests: number;
}

/** One upstream request of a cold host, by arrival time relative to the first vend's sending (negative: during start-up). */
export interface ColdStep {
  readonly atMs: number;
  /** How long the service held it, from arrival to its answer written (its injected delay included). */
  readonly heldMs: number;
  readonly service: 'Key Vault' | 'Entra ID' | 'Table storage';
  readonly request: string;
}

export interface ColdRuns {
  readonly ms: Summary;
  readonly samplesMs: readonly number[];
  /**
   * Our own time of each first vend: its duration less the time an upstream service (Key Vault,
   * Entra ID, the audit table) held one of its requests (overlaps counted once). What is left is
   * the host's own work, the loopback hops and the client's.
   */
  readonly ownMs: Summary;
  /** The rest of each first vend: the time upstream services held its requests (the vend less our own). */
  readonly heldMs: Summary;
  /**
   * CPU time the host process (all its threads) spent from the first vend's sending to its reply:
   * the part of our own time that is the host's work; the rest is the loopback hops between the
   * client, the host and the sandbox's services, on the same two cores.
   */
  readonly hostCpuMs: Summary;
  /** Every upstream request of the last host of the series, in order. */
  readonly trace: readonly ColdStep[];
  /**
   * Injected latency summed over the requests that arrived after the last host's first vend was
   * sent: the floor of that vend when they ran one after another (after start-up they do; at
   * readiness the start-up requests run beside each other and the sum overstates it).
   */
  readonly floorMs: number;
}

export interface ColdUpstream {
  readonly injectedMs: typeof INJECTED;
  readonly settleMs: number;
  /** First POST /api/token sent SETTLE_MS after the host listens: start-up prefetch done. */
  readonly afterStartup: ColdRuns;
  /** First POST /api/token sent the moment the host listens: start-up prefetch still under way. */
  readonly atReadiness: ColdRuns;
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

/**
 * The app settings Azure runs with (infra/): the audit key is read from Key Vault by name at start,
 * not given as a value, so the vault's challenge and the app's vault token are fetched at start too.
 */
function productionLikeEnv(sandbox: Sandbox): Record<string, string> {
  const { AUDIT_HMAC_KEY: key, ...env } = sandbox.hostEnv();
  sandbox.vault.setSecret(AUDIT_KEY_SECRET, key);
  return { ...env, AUDIT_HMAC_SECRET_NAME: AUDIT_KEY_SECRET };
}

async function withHost<T>(sandbox: Sandbox, track: (h: SpawnedHost | undefined) => void, use: (h: SpawnedHost) => Promise<T>): Promise<T> {
  sandbox.vault.resetCounters();
  sandbox.authority.resetCounters();
  sandbox.vault.faults.resetRequests();
  sandbox.authority.faults.resetRequests();
  sandbox.audit.resetBatchTimeline();
  const host = await spawnHost(productionLikeEnv(sandbox));
  track(host);
  try {
    return await use(host);
  } finally {
    await host.stop();
    track(undefined);
  }
}

function traceSince(sandbox: Sandbox, sentAt: number): ColdStep[] {
  const steps = (service: ColdStep['service'], list: readonly { path?: string; at: number; answeredAt: number }[]): ColdStep[] =>
    list.map((e) => ({ atMs: round1(e.at - sentAt), heldMs: round1(e.answeredAt - e.at), service, request: (e.path ?? '/$batch').replace(/^\/[0-9a-f-]{36}\//, '/{tenant}/') }));
  return [
    ...steps('Key Vault', sandbox.vault.faults.timeline()),
    ...steps('Entra ID', sandbox.authority.faults.timeline()),
    ...steps('Table storage', sandbox.audit.batchTimeline()),
  ].sort((a, b) => a.atMs - b.atMs);
}

/** The vend's duration less the time upstream services held its requests (the union of their intervals within it). */
export function ownTimeMs(trace: readonly ColdStep[], vendMs: number): number {
  const spans = trace
    .filter((s) => Number.isFinite(s.heldMs))
    .map((s) => [Math.max(0, s.atMs), Math.min(vendMs, s.atMs + s.heldMs)] as const)
    .filter(([from, to]) => to > from)
    .sort((a, b) => a[0] - b[0]);
  let held = 0;
  let reached = 0;
  for (const [from, to] of spans) {
    const start = Math.max(from, reached);
    if (to > start) held += to - start;
    reached = Math.max(reached, to);
  }
  return round1(vendMs - held);
}

const floorOf = (trace: readonly ColdStep[]): number =>
  trace.filter((s) => s.atMs >= 0).reduce((sum, s) => sum + (s.service === 'Key Vault' ? INJECTED.keyVaultMs : s.service === 'Entra ID' ? INJECTED.entraMs : 0), 0);

/** `hosts` fresh hosts one after another, each one first vend, sent `waitMs` after the host listens. */
async function series(sandbox: Sandbox, pool: CallerPool, hosts: number, waitMs: number, track: (h: SpawnedHost | undefined) => void): Promise<ColdRuns & { ok2xx: number; last: UpstreamCounts }> {
  const samples: number[] = [];
  const own: number[] = [];
  const held: number[] = [];
  const hostCpu: number[] = [];
  let ok2xx = 0;
  let trace: ColdStep[] = [];
  let last = counts(sandbox);
  for (let i = 0; i < hosts; i += 1) {
    await withHost(sandbox, track, async (host) => {
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      const cpuBefore = await threadCpuMs(host.pid);
      const sentAt = performance.now();
      const reply = await vendOnce(host.url, pool.next());
      hostCpu.push(round1((await threadCpuMs(host.pid)) - cpuBefore));
      samples.push(round1(reply.ms));
      if (reply.status === 200 && reply.hasToken) ok2xx += 1;
      trace = traceSince(sandbox, sentAt);
      const ownMs = ownTimeMs(trace, reply.ms);
      own.push(ownMs);
      held.push(round1(reply.ms - ownMs));
      last = counts(sandbox);
    });
  }
  return { ms: summarize(samples), samplesMs: samples, ownMs: summarize(own), heldMs: summarize(held), hostCpuMs: summarize(hostCpu), trace, floorMs: floorOf(trace), ok2xx, last };
}

/**
 * Cold vends with Key Vault 20 ms and Entra ID 50 ms away: `hosts` fresh hosts whose first vend
 * is sent once start-up is over, `hosts` more whose first vend is sent the moment they listen,
 * then `concurrent` simultaneous first vends on one more fresh host, counting what reached Key
 * Vault and Entra ID. The latencies are removed afterwards, whatever happens.
 */
export async function measureColdUpstream(sandbox: Sandbox, pool: CallerPool, plan: { hosts: number; concurrent: number }, track: (h: SpawnedHost | undefined) => void): Promise<ColdUpstream> {
  // The sandbox's fault injection, a delay only: every request answers that much later.
  sandbox.vault.faults.set({ delayMs: INJECTED.keyVaultMs });
  sandbox.authority.faults.set({ delayMs: INJECTED.entraMs });
  try {
    const afterStartup = await series(sandbox, pool, plan.hosts, SETTLE_MS, track);
    const atReadiness = await series(sandbox, pool, plan.hosts, 0, track);
    const concurrent = await withHost(sandbox, track, async (host) => {
      const tokens = Array.from({ length: plan.concurrent }, () => pool.next());
      const started = performance.now();
      const replies = await Promise.all(tokens.map((t) => vendOnce(host.url, t)));
      const allAnsweredMs = Math.round(performance.now() - started);
      const ok = replies.filter((r) => r.status === 200 && r.hasToken).length;
      return { requests: plan.concurrent, ok2xx: ok, allAnsweredMs, upstream: counts(sandbox) };
    });
    const runs = ({ ms, samplesMs, ownMs, heldMs, hostCpuMs, trace, floorMs }: ColdRuns): ColdRuns => ({ ms, samplesMs, ownMs, heldMs, hostCpuMs, trace, floorMs });
    return {
      injectedMs: INJECTED, settleMs: SETTLE_MS,
      afterStartup: runs(afterStartup), atReadiness: runs(atReadiness),
      firstVendUpstream: afterStartup.last, concurrent,
      ok2xx: afterStartup.ok2xx + atReadiness.ok2xx + concurrent.ok2xx,
    };
  } finally {
    sandbox.vault.faults.clear();
    sandbox.authority.faults.clear();
  }
}
