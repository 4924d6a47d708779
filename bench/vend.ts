import { join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSandbox } from '../src/dev/sandbox';
import type { Sandbox } from '../src/dev/sandbox';
import type { SpawnedHost } from '../src/dev/spawn-host';
import { seedApiGrants, untilGrantsLoaded } from './lib/api-grants';
import { countAuditRows } from './lib/audit-rows';
import { CallerPool } from './lib/caller-pool';
import { evaluate } from './lib/checks';
import { measureColdVends } from './lib/cold';
import { hostChildPids } from './lib/host-process';
import { formatReport, machine, writeResults } from './lib/report';
import type { BenchResults } from './lib/report';
import { measureWarmHost } from './lib/warm';

/**
 * `npm run bench`: cold and warm vend latency, throughput, upstream calls, host memory and audit
 * rows, against the sandbox on 127.0.0.1. Bounded in count and time; exits non-zero on any failed check.
 */
const PLAN = { coldHosts: 10, callers: 400, warmupRequests: 500, targetSeconds: 10, probeRequestsPerConnection: 10, connections: [10, 50] } as const;
/** Then a second warm host, with this many API grants for the same workspace loaded: throughput must hold. */
const API_GRANTS = 1_000;
/** The whole bench is cut short (hosts and sandbox still stopped) if it runs past this. */
const DEADLINE_MS = 240_000;

// From the build output (dist/bench) the results folder is two levels up, beside this file's source.
const RESULTS_DIR = __dirname.split(sep).includes('dist') ? join(__dirname, '..', '..', 'bench', 'results') : join(__dirname, 'results');

const running = new Set<SpawnedHost>();

async function bench(sandbox: Sandbox, started: number, where: BenchResults['machine']): Promise<BenchResults> {
  const pool = await CallerPool.create(sandbox, PLAN.callers);
  let current: SpawnedHost | undefined;
  const cold = await measureColdVends(sandbox, PLAN.coldHosts, (host) => {
    if (current) running.delete(current);
    current = host;
    if (host) running.add(host);
  });
  const warm = await measureWarmHost(sandbox, pool, PLAN, (host) => running.add(host));
  await seedApiGrants(sandbox, API_GRANTS);
  const withGrants = await measureWarmHost(sandbox, pool, PLAN, (host) => running.add(host), (host) => untilGrantsLoaded(host.url));
  const rowsByOutcome = await countAuditRows(sandbox);
  const responses2xx = cold.ok2xx + warm.ok2xx + withGrants.ok2xx;
  const maxRequestsPerCaller = pool.maxPerCaller();
  return {
    date: new Date().toISOString().slice(0, 10),
    machine: where,
    totalSeconds: Math.round((performance.now() - started) / 1000),
    cold, warm,
    apiGrants: { count: API_GRANTS, warm: withGrants },
    callers: { distinct: pool.size, maxRequestsPerCaller },
    audit: { rowsByOutcome, responses2xx },
    checks: evaluate({ cold, warm, withGrants, maxPerCaller: maxRequestsPerCaller, rowsByOutcome, responses2xx }),
  };
}

function deadline(): { promise: Promise<never>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the bench ran past ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

async function main(): Promise<number> {
  const started = performance.now();
  const where = machine();
  const sandbox = await startSandbox({ quiet: true });
  const limit = deadline();
  try {
    const results = await Promise.race([bench(sandbox, started, where), limit.promise]);
    console.log(formatReport(results));
    const files = await writeResults(RESULTS_DIR, results);
    console.log(`\nwrote ${files.map((f) => `bench/results/${f.split(sep).at(-1)}`).join(' and ')}`);
    return results.checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    limit.clear();
    await Promise.all([...running].map((host) => host.stop()));
    await sandbox.stop();
    // A host the bench was still starting when the deadline hit is not tracked yet: end it by pid.
    for (const pid of await hostChildPids()) process.kill(pid, 'SIGKILL');
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('bench failed:', err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
