import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { ColdFigures } from './cold';
import type { ProcessSample } from './host-process';
import type { WarmFigures, WarmRun } from './warm';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface BenchResults {
  readonly date: string;
  readonly machine: {
    readonly cpus: number; readonly cpuModel: string; readonly node: string; readonly platform: string;
    /** 1-minute load average when the bench started: other work on the machine skews every figure. */
    readonly loadAverageAtStart: number;
  };
  readonly totalSeconds: number;
  readonly cold: ColdFigures;
  readonly warm: WarmFigures;
  /** The same warm measurement on a fresh host with this many API grants loaded for the workspace. */
  readonly apiGrants: { readonly count: number; readonly warm: WarmFigures };
  readonly callers: { readonly distinct: number; readonly maxRequestsPerCaller: number };
  readonly audit: { readonly rowsByOutcome: Record<string, number>; readonly responses2xx: number };
  readonly checks: readonly Check[];
}

export function machine(): BenchResults['machine'] {
  const all = cpus();
  return {
    cpus: all.length, cpuModel: all[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}`,
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

const pad = (cells: readonly (string | number)[]): string =>
  cells.map((c, i) => (i === 0 ? String(c).padEnd(34) : String(c).padStart(9))).join(' ');

function loadRow(label: string, run: WarmRun): string {
  const l = run.latencyMs;
  return pad([label, run.reqPerSec, l.p50, l.p90, l.p99, l.max, run.requests, run.non2xx + run.errors, run.hostCpuMsPerRequest]);
}

function memRow(label: string, m: ProcessSample): string {
  return pad([label, m.rssMiB, m.peakMiB]);
}

function coldLines({ cold }: BenchResults): string[] {
  const row = (label: string, m: BenchResults['cold']['firstVendMs']): string => pad([label, m.min, m.median, m.p95, m.max]);
  return [
    pad(['cold vend (ms)', 'min', 'median', 'p95', 'max']),
    row(`first POST /api/token, ${cold.hosts} hosts`, cold.firstVendMs),
    row('host start to listening', cold.hostStartMs),
  ];
}

function warmLines({ warm }: BenchResults): string[] {
  return [
    pad(['warm vend (latency ms)', 'req/s', 'p50', 'p90', 'p99', 'max', 'requests', 'failed', 'CPU ms/req']),
    loadRow(`warm-up, ${warm.warmup.connections} connections, ${warm.warmup.durationSeconds} s`, warm.warmup),
    ...warm.runs.map((run) => loadRow(`${run.durationSeconds} s, ${run.connections} connections`, run)),
    '',
    pad(['host memory (MiB)', 'RSS', 'peak RSS']),
    memRow('after start', warm.memory.afterStart),
    memRow('after warm-up', warm.memory.afterWarmup),
    memRow('after load', warm.memory.afterLoad),
    '',
    pad(['upstream calls, warm host (whole life)', 'count']),
    pad(['Key Vault secret reads', warm.upstream.keyVaultSecretReads]),
    pad(['Entra tokens for the SP', warm.upstream.spTokenRequests]),
    pad(["Entra tokens for the app's identity", warm.upstream.appTokenRequests]),
  ];
}

/** The figures as a plain table, then every check with its outcome. */
export function formatReport(r: BenchResults): string {
  const m = r.machine;
  return [
    `dbx-token-vending bench — ${r.date}, ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverageAtStart} at start, ${r.totalSeconds} s`,
    '',
    ...coldLines(r),
    '',
    ...warmLines(r),
    '',
    pad([`warm vend, ${r.apiGrants.count} API grants loaded`, 'req/s', 'p50', 'p90', 'p99', 'max', 'requests', 'failed', 'CPU ms/req']),
    ...r.apiGrants.warm.runs.map((run) => loadRow(`${run.durationSeconds} s, ${run.connections} connections`, run)),
    '',
    pad(['audit rows', 'count']),
    ...Object.entries(r.audit.rowsByOutcome).map(([outcome, n]) => pad([outcome, n])),
    pad(['2xx replies, whole bench', r.audit.responses2xx]),
    '',
    ...r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name} (${c.detail})`),
  ].join('\n');
}

/** `latest.json` (the README's figure source) and a dated copy beside it. */
export async function writeResults(dir: string, r: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(r, null, 2)}\n`;
  const files = [join(dir, 'latest.json')];
  for (const file of files) await writeFile(file, text);
  return files;
}
