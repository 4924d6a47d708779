import { join } from 'node:path';
import { startSandbox } from '../src/dev/sandbox';
import type { Sandbox } from '../src/dev/sandbox';
import { spawnHost } from '../src/dev/spawn-host';
import type { SpawnedHost } from '../src/dev/spawn-host';
import { countAuditRows } from './lib/audit-rows';
import { CallerPool, PER_CALLER_PER_MINUTE } from './lib/caller-pool';
import { runLoad } from './lib/load';

const VENDS = 10_000;
const CONNECTIONS = 100;
const SLICES = 5;
/**
 * Live heap after a full GC may grow this much from the first slice to the last and still count
 * as flat: caches filling to their bounds (10,000 verified caller tokens at most, rate-limit
 * windows, refusal keys) and V8's own code and feedback.
 */
const HEAP_TOLERANCE = 0.1;

interface Probe {
  readonly heapUsed: number;
  readonly rss: number;
}

const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** The host's memory after a full GC, through the debug-only heap probe (SIGUSR2 → one line). */
async function probe(host: SpawnedHost): Promise<Probe> {
  const seen = host.output().split('heap-probe ').length;
  process.kill(host.pid, 'SIGUSR2');
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const parts = host.output().split('heap-probe ');
    if (parts.length > seen) return JSON.parse((parts.at(-1) ?? '').split('\n')[0] ?? '{}') as Probe;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the host did not answer the heap probe');
}

/** Vends in equal slices, probing memory after each; then the audit and upstream counts. */
async function reconcile(sandbox: Sandbox, host: SpawnedHost) {
  const pool = await CallerPool.create(sandbox, Math.ceil(VENDS / (PER_CALLER_PER_MINUTE / 2)));
  const sp = sandbox.apps.servicePrincipals['etl-sp'];
  sandbox.authority.resetCounters();
  sandbox.vault.resetCounters();
  const issuedBefore = (await countAuditRows(sandbox)).issued ?? 0;
  const slice = Math.ceil(VENDS / SLICES);
  const started = Date.now();
  const probes: Probe[] = [];
  let ok200 = 0, withToken = 0, errors = 0;
  for (let i = 0; i < SLICES; i++) {
    const run = await runLoad(pool, { url: host.url, connections: CONNECTIONS, amount: slice });
    ok200 += run.ok2xx;
    withToken += run.withToken;
    errors += run.non2xx + run.errors + run.timeouts;
    probes.push(await probe(host));
  }
  return {
    vends: slice * SLICES, seconds: Math.round((Date.now() - started) / 100) / 10, ok200, withToken, errors, probes,
    issuedRows: ((await countAuditRows(sandbox)).issued ?? 0) - issuedBefore,
    entraCalls: sandbox.authority.tokenRequests({ clientId: sp.clientId }),
    keyVaultReads: sandbox.vault.secretReads(sp.secretName),
  };
}

/**
 * `npm run load`: 10,000 vends at concurrency 100 through a local host on the sandbox, then the
 * reconciliation: 0 errors, one audit row per 200, one upstream call per SP per token lifetime,
 * and the host's live heap after a full GC flat between the first and the last 2,000 (RSS is
 * reported, not judged: it follows the allocator and GC timing, not what is still referenced).
 */
async function main(): Promise<number> {
  const sandbox = await startSandbox({ quiet: true });
  const timer = setTimeout(() => {
    console.error('load: ran past 5 minutes');
    process.exit(1);
  }, 300_000);
  const host = await spawnHost(sandbox.hostEnv(), { nodeArgs: ['--expose-gc', '--require', join(__dirname, '..', 'src', 'dev', 'heap-probe-preload.js')] });
  try {
    const before = await probe(host);
    const f = await reconcile(sandbox, host);
    const first = f.probes[0] ?? before;
    const last = f.probes.at(-1) ?? before;
    const checks: [string, boolean][] = [
      [`0 errors (${f.errors})`, f.errors === 0],
      [`every answer 200 with a token (${f.withToken}/${f.vends})`, f.withToken === f.vends],
      [`audit rows = 200 answers (${f.issuedRows} = ${f.ok200})`, f.issuedRows === f.ok200],
      [`Entra ID calls for the SP = 1 (${f.entraCalls})`, f.entraCalls === 1],
      [`Key Vault reads of its secret = 1 (${f.keyVaultReads})`, f.keyVaultReads === 1],
      [`heap after GC flat: ${mib(first.heapUsed)} MiB after the first ${f.vends / SLICES}, ${mib(last.heapUsed)} MiB after the last (≤ +${HEAP_TOLERANCE * 100} %)`, last.heapUsed <= first.heapUsed * (1 + HEAP_TOLERANCE)],
    ];
    console.log(`load: ${f.vends} vends at concurrency ${CONNECTIONS} in ${f.seconds} s (${Math.round(f.vends / f.seconds)} req/s)`);
    console.log(`  heap after GC per slice, MiB: ${[before, ...f.probes].map((p) => mib(p.heapUsed)).join(' → ')} (before the first vend, then after each ${f.vends / SLICES})`);
    console.log(`  RSS after GC per slice, MiB:  ${[before, ...f.probes].map((p) => mib(p.rss)).join(' → ')}`);
    for (const [what, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    clearTimeout(timer);
    await host.stop();
    await sandbox.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('load failed:', err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
