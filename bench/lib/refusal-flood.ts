import { randomUUID } from 'node:crypto';
import type { Sandbox } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { startFlood } from '../../test/support/flood-process';
import { openLoop, percentile, sleep } from '../../test/support/loopback-load';
import type { Sample } from '../../test/support/loopback-load';
import type { CallerPool } from './caller-pool';
import { round1, round2 } from './stats';

export interface RefusalFloodPlan {
  /** Granted callers' vends per second, in every phase. */
  readonly grantedPerSecond: number;
  /** Refused requests per second in the flooded phases (garbage tokens from 8 addresses, a caller without a grant). */
  readonly floodPerSecond: number;
  readonly phaseMs: number;
  /** Pairs of phases, alternating A B B A … so drift falls on both kinds alike. */
  readonly pairs: number;
}

interface PhaseFigures {
  readonly requests: number;
  readonly success: number;
  /** Median over the phases of each phase's p50 / p99 (ms). */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface RefusalFlood {
  readonly plan: RefusalFloodPlan;
  readonly quiet: PhaseFigures;
  readonly flooded: PhaseFigures;
  /** flooded p99 ÷ quiet p99. */
  readonly p99Ratio: number;
  /** Interquartile range of the quiet phases' p99s: the run's own noise, ms. */
  readonly quietP99SpreadMs: number;
  /** The flood's answers by HTTP status. */
  readonly floodAnswers: Record<string, number>;
  readonly ok2xx: number;
}


function figures(phases: readonly Sample[][]): PhaseFigures {
  const all = phases.flat();
  const ms = (p: readonly Sample[], q: number): number => percentile(p.map((s) => s.ms), q);
  return {
    requests: all.length,
    success: round1((all.filter((s) => s.status === 200).length / Math.max(1, all.length)) * 100) / 100,
    p50Ms: round1(percentile(phases.map((p) => ms(p, 50)), 50)),
    p99Ms: round1(percentile(phases.map((p) => ms(p, 99)), 50)),
  };
}

/**
 * Legitimate vends at a fixed rate on a warm host, in alternating phases with and without a flood
 * of refused requests sent from a process of its own (so sending it does not jitter the timing
 * here). Every vend's latency is from send to last byte.
 */
export async function measureRefusalFlood(sandbox: Sandbox, pool: CallerPool, host: SpawnedHost, plan: RefusalFloodPlan): Promise<RefusalFlood> {
  const body = JSON.stringify({ workspace: 'analytics-sandbox' });
  const ungranted = await sandbox.issueCallerToken({ roles: [], claims: { oid: randomUUID() } });
  const vend = { url: `${host.url}/token`, body, headers: () => ({ authorization: `Bearer ${pool.next()}` }) };
  const flood = startFlood({ url: `${host.url}/token`, body, perSecond: plan.floodPerSecond, ungranted });
  const quiet: Sample[][] = [];
  const loud: Sample[][] = [];
  let floodAnswers: Record<string, number>;
  const phase = async (flooded: boolean): Promise<Sample[]> => {
    flood.set(flooded);
    const samples = await openLoop(vend, plan.grantedPerSecond, sleep(plan.phaseMs));
    flood.set(false);
    return samples;
  };
  try {
    // Warm-up, one phase of each kind: counted for the audit check only, not in the figures. The
    // host has served only vends so far, and its refusal path runs unoptimized at first: measured
    // cold, the first flooded phase paid for V8's work (the first of two runs on one host gave
    // 1.78 × and 1.58 ×, the second 1.06 × and 0.93 ×).
    const warmUp = [await phase(false), await phase(true)];
    for (let pair = 0; pair < plan.pairs; pair += 1) {
      for (const flooded of pair % 2 ? [true, false] : [false, true]) (flooded ? loud : quiet).push(await phase(flooded));
    }
    const ok2xx = [...warmUp, ...quiet, ...loud].flat().filter((s) => s.status === 200).length;
    floodAnswers = await flood.end();
    const q = figures(quiet);
    const f = figures(loud);
    const quietP99s = quiet.map((p) => percentile(p.map((s) => s.ms), 99));
    return {
      plan, quiet: q, flooded: f,
      p99Ratio: round2(f.p99Ms / Math.max(0.1, q.p99Ms)),
      quietP99SpreadMs: round1(percentile(quietP99s, 75) - percentile(quietP99s, 25)),
      floodAnswers, ok2xx,
    };
  } catch (err) {
    await flood.end().catch(() => undefined);
    throw err;
  }
}
