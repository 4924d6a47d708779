import { join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startSandbox } from '../src/dev/sandbox';
import type { Sandbox } from '../src/dev/sandbox';
import { spawnHost } from '../src/dev/spawn-host';
import type { SpawnedHost } from '../src/dev/spawn-host';
import { countAuditRows } from './lib/audit-rows';
import { CallerPool } from './lib/caller-pool';
import { evaluate } from './lib/checks';
import { measureApiGrants } from './lib/api-grants';
import { measureColdUpstream } from './lib/cold-upstream';
import { hostChildPids } from './lib/host-process';
import { formatReport, machine, writeResults } from './lib/report';
import type { BenchResults } from './lib/report';
import { measureRefusalFlood } from './lib/refusal-flood';
import { measureScaledConfig } from './lib/scale-config';
import { measureSideBySide, sameSizeBody } from './lib/side-by-side';
import type { ServerRun, SideBySide } from './lib/side-by-side';
import { summarize } from './lib/stats';
import { measureStartup } from './lib/startup';
import { formatTelemetry, measureTelemetry, writeTelemetry } from './telemetry';
import type { TelemetryCost } from './telemetry';

/**
 * `npm run bench`: the warm vend beside the bare server and the bare server with one insert per
 * request (same client, same settings, one run), legitimate vends beside a flood of refused
 * requests, warm hosts with and without 1,000 API grants, cold vends with Key Vault and Entra ID latencies
 * injected, 300 concurrent cold vends, a configuration of 1,000 workspaces and grants, and the
 * deployment package's start-up. Against the sandbox on 127.0.0.1; bounded in count and time;
 * exits non-zero when a target of issue 8 or a check is missed.
 */
const PLAN = {
  callers: 600,
  sideBySide: { connections: 32, targetSeconds: 6, probeRequestsPerConnection: 10, rounds: 5, warmUpRequests: 4_000 },
  cold: { hosts: 5, concurrent: 300 },
  scale: { extra: 1_000, connections: 32, requests: 3_000 },
  flood: { grantedPerSecond: 50, floodPerSecond: 200, phaseMs: 2_000, pairs: 5 },
  apiGrants: { count: 1_000, connections: 32, runSeconds: 3, warmUpRequests: 3_000, rounds: 3 },
  startupRuns: 5,
  telemetry: { connections: 32, rounds: 3, targetSeconds: 4, startupRuns: 5 },
} as const;
/** Telemetry off and on (bench/telemetry.ts), reported beside the main results. */
let telemetryCost: TelemetryCost | undefined;
/** The whole bench is cut short (servers and sandbox still stopped) if it runs past this. */
const DEADLINE_MS = 300_000;

// From the build output (dist/bench) the repository is two levels up.
const REPO_ROOT = __dirname.split(sep).includes('dist') ? join(__dirname, '..', '..') : join(__dirname, '..');
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

const running = new Set<{ stop(): Promise<void> }>();
const tracker = (): ((s: { stop(): Promise<void> } | undefined) => void) => {
  let current: { stop(): Promise<void> } | undefined;
  return (s) => {
    if (current) running.delete(current);
    current = s;
    if (s) running.add(s);
  };
};

/** A host after one vend (its caches filled), and that vend's reply text. */
async function warmHost(sandbox: Sandbox, pool: CallerPool): Promise<{ host: SpawnedHost; firstText: string }> {
  const host = await spawnHost(sandbox.hostEnv());
  running.add(host);
  const first = await fetch(`${host.url}/token`, {
    method: 'POST', headers: { authorization: `Bearer ${pool.next()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ workspace: 'analytics-sandbox' }), signal: AbortSignal.timeout(30_000),
  });
  const firstText = await first.text();
  if (first.status !== 200) throw new Error(`the warm host's first vend answered ${first.status}`);
  return { host, firstText };
}

/** Per round (insert server, then warm vend), and their medians: the figures the targets are judged on. */
function ratiosOf(side: SideBySide): BenchResults['ratios'] {
  const ratio = (a: number, b: number): number => Math.round((a / Math.max(1, b)) * 100) / 100;
  const of = (server: ServerRun['server']): ServerRun[] => side.runs.filter((r) => r.server === server);
  const bare = of('bare')[0]?.reqPerSec ?? 0;
  const pairs = of('warm vend').map((vend) => ({ vend, insert: of('bare + insert').find((i) => i.round === vend.round) }));
  const byRound = pairs.map(({ vend, insert }) => ratio(vend.reqPerSec, insert?.reqPerSec ?? 0));
  return {
    vendOverBare: ratio(summarize(pairs.map((p) => p.vend.reqPerSec)).median, bare),
    vendOverInsert: summarize(byRound).median,
    vendOverInsertByRound: byRound,
    p99OverInsertMs: summarize(pairs.map(({ vend, insert }) => vend.latencyMs.p99 - (insert?.latencyMs.p99 ?? 0))).median,
  };
}

/**
 * The scenarios in turn. Each returns its figures and the 2xx replies it got (the audit check
 * compares them with the rows); a new one is a module in bench/lib, a field of BenchResults, its
 * lines in report.ts and its check in checks.ts (see bench/README.md, "Adding a scenario").
 */
async function bench(sandbox: Sandbox, started: number, where: BenchResults['machine']): Promise<BenchResults> {
  const pool = await CallerPool.create(sandbox, PLAN.callers);
  const startup = await measureStartup(REPO_ROOT, sandbox.hostEnv(), PLAN.startupRuns);
  const { host, firstText } = await warmHost(sandbox, pool);
  const side = await measureSideBySide(sandbox, pool, host, sameSizeBody(firstText), PLAN.sideBySide, tracker());
  const flood = await measureRefusalFlood(sandbox, pool, host, PLAN.flood);
  await host.stop();
  running.delete(host);
  telemetryCost = await measureTelemetry(REPO_ROOT, sandbox, pool, PLAN.telemetry, tracker());
  const warmRate = side.figures.runs.find((r) => r.server === 'warm vend')?.reqPerSec ?? 500;
  const { runSeconds, ...grantsPlan } = PLAN.apiGrants;
  const apiGrants = await measureApiGrants(sandbox, pool, { ...grantsPlan, requests: Math.max(640, Math.round(warmRate * runSeconds)) }, tracker());
  const cold = await measureColdUpstream(sandbox, pool, PLAN.cold, tracker());
  const scale = await measureScaledConfig(sandbox, pool, PLAN.scale, tracker());
  const responses2xx = 1 + side.ok2xx + flood.ok2xx + apiGrants.ok2xx + cold.ok2xx + scale.ok2xx;
  const partial = {
    sideBySide: side.figures, ratios: ratiosOf(side.figures), flood, apiGrants, cold, scale, startup,
    callers: { distinct: pool.size, maxRequestsPerCaller: pool.maxPerCaller() },
    audit: { rowsByOutcome: await countAuditRows(sandbox), responses2xx },
  };
  return {
    date: new Date().toISOString().slice(0, 10), machine: where,
    totalSeconds: Math.round((performance.now() - started) / 1000),
    ...partial, checks: evaluate(partial),
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
    if (telemetryCost) console.log(formatTelemetry(telemetryCost));
    if (telemetryCost) await writeTelemetry(RESULTS_DIR, telemetryCost);
    return results.checks.every((c) => c.ok) && (telemetryCost?.checks ?? []).every((c) => c.ok) ? 0 : 1;
  } finally {
    limit.clear();
    await Promise.all([...running].map((s) => s.stop()));
    await sandbox.stop();
    // A server the bench was still starting when the deadline hit is not tracked yet: end it by pid.
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
