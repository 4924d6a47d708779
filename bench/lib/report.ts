import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { ColdRuns, ColdUpstream, UpstreamCounts } from './cold-upstream';
import type { ApiGrantsFigures } from './api-grants';
import type { RefusalFlood } from './refusal-flood';
import type { ScaleFigures } from './scale-config';
import type { ServerRun, SideBySide } from './side-by-side';
import type { StartupFigures } from './startup';

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
  readonly sideBySide: SideBySide;
  /** Medians over the rounds (vend ÷ insert server per round in `vendOverInsertByRound`). */
  readonly ratios: { readonly vendOverBare: number; readonly vendOverInsert: number; readonly vendOverInsertByRound: readonly number[]; readonly p99OverInsertMs: number };
  readonly flood: RefusalFlood;
  readonly apiGrants: ApiGrantsFigures;
  readonly cold: ColdUpstream;
  readonly scale: ScaleFigures;
  readonly startup: StartupFigures;
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

const row = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
const rule = (n: number): string => `|${'---|'.repeat(n)}`;
const upstream = (u: UpstreamCounts): string => `${u.keyVaultSecretReads} Key Vault reads, ${u.spTokenRequests} Entra tokens for the SP, ${u.appTokenRequests} for the app`;

function sideBySideLines(r: BenchResults): string[] {
  const s = r.sideBySide;
  const line = (run: ServerRun): string => {
    const l = run.latencyMs;
    return row([
      run.server, run.round || '—', run.reqPerSec.toLocaleString('en'), l.p50, l.p99, run.cpuMsPerRequest, run.storeCpuMsPerRequest, run.clientCpuMsPerRequest,
      run.requests.toLocaleString('en'), run.non2xx + run.errors, run.durationSeconds,
    ]);
  };
  return [
    `Same client (autocannon), ${s.connections} connections, same callers' tokens and body; the bare server once, then the insert server and the warm vend in turn, ${r.ratios.vendOverInsertByRound.length} rounds:`,
    '',
    row(['server', 'round', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'store CPU ms/req', 'client CPU ms/req', 'requests', 'failed', 's']),
    rule(11),
    ...s.runs.map(line),
    '',
    `Medians over the rounds: warm vend ÷ bare server: ${r.ratios.vendOverBare}; warm vend ÷ bare server + insert: **${r.ratios.vendOverInsert}** ` +
      `(rounds: ${r.ratios.vendOverInsertByRound.join(', ')}); warm p99 − insert server p99: **${r.ratios.p99OverInsertMs} ms**. Upstream calls during the warm runs: ` +
      `${s.warmUpstreamCalls.keyVaultSecretReads} Key Vault reads, ${s.warmUpstreamCalls.entraTokenRequests} Entra ID token requests.`,
  ];
}

function floodLines({ flood: f }: BenchResults): string[] {
  const answers = Object.entries(f.floodAnswers).map(([status, n]) => `${n} × ${status}`).join(', ');
  return [
    `Refusal flood: granted callers at ${f.plan.grantedPerSecond} vends/s on the warm host, in ${f.plan.pairs * 2} alternating ${f.plan.phaseMs / 1000} s phases, ` +
      `half of them beside ${f.plan.floodPerSecond} refused requests/s from another process (garbage tokens from 8 addresses, a caller without a grant); per kind, the median of the phases' p50 and p99:`,
    '',
    row(['granted callers', 'requests', 'success', 'p50 ms', 'p99 ms']),
    rule(5),
    row(['without the flood', f.quiet.requests, f.quiet.success, f.quiet.p50Ms, f.quiet.p99Ms]),
    row(['beside the flood', f.flooded.requests, f.flooded.success, f.flooded.p50Ms, f.flooded.p99Ms]),
    '',
    `p99 beside the flood ÷ without: **${f.p99Ratio}**; spread (IQR) of the unflooded phases' p99s: ${f.quietP99SpreadMs} ms. The flood's answers: ${answers || 'none'}.`,
  ];
}

function grantsLines({ apiGrants: g }: BenchResults): string[] {
  return [
    `${g.apiGrants.toLocaleString('en')} API grants: two warm hosts, one reading a grants table of ${g.apiGrants.toLocaleString('en')} grants on the vended workspace (none admitting the bench's callers; ` +
      `refreshed in the background as in production), one without; runs of ${g.requestsPerRun.toLocaleString('en')} vends at ${g.connections} connections, alternating:`,
    '',
    row(['host', 'req/s', 'p99 ms', 'CPU ms/req', 'requests', 'failed']),
    rule(6),
    ...g.runs.map((r) => row([r.host, r.reqPerSec.toLocaleString('en'), r.p99Ms, r.cpuMsPerRequest, r.requests.toLocaleString('en'), r.failed])),
    '',
    `Mean req/s with ÷ without API grants: **${g.ratio}** (${g.with.reqPerSec} vs ${g.without.reqPerSec}; CPU ${g.with.cpuMsPerRequest} vs ${g.without.cpuMsPerRequest} ms/req); ` +
      `the host without grants differed from itself by ${Math.round(g.noise * 100)} % between its runs (the largest difference).`,
  ];
}

function traceLines(title: string, runs: ColdRuns): string[] {
  return [
    `${title} (arrival at the sandbox, ms from sending the first vend; negative: during start-up; held: until the service wrote its answer; it answered after ${runs.samplesMs.at(-1)} ms):`,
    '',
    row(['ms', 'held ms', 'service', 'request']),
    rule(4),
    ...runs.trace.map((s) => row([s.atMs, s.heldMs, s.service, `\`${s.request}\``])),
  ];
}

function coldLines({ cold, startup, scale }: BenchResults): string[] {
  const f = cold.afterStartup.ms;
  const a = cold.atReadiness.ms;
  const b = startup.bundle;
  const u = startup.unbundled;
  const injected = `Key Vault +${cold.injectedMs.keyVaultMs} ms, Entra ID +${cold.injectedMs.entraMs} ms`;
  return [
    row(['figure', 'min', 'median', 'p95', 'max']),
    rule(5),
    row([`cold first vend ${cold.settleMs} ms after start, ${injected} (ms)`, f.min, f.median, f.p95, f.max]),
    row([`  of which our own (less the time upstream services held its requests)`, cold.afterStartup.ownMs.min, cold.afterStartup.ownMs.median, cold.afterStartup.ownMs.p95, cold.afterStartup.ownMs.max]),
    row([`  of which upstream services held its requests`, cold.afterStartup.heldMs.min, cold.afterStartup.heldMs.median, cold.afterStartup.heldMs.p95, cold.afterStartup.heldMs.max]),
    row([`  the host's CPU over the vend (all its threads)`, cold.afterStartup.hostCpuMs.min, cold.afterStartup.hostCpuMs.median, cold.afterStartup.hostCpuMs.p95, cold.afterStartup.hostCpuMs.max]),
    row([`cold first vend the moment the host listens, ${injected} (ms)`, a.min, a.median, a.p95, a.max]),
    row([`  of which our own`, cold.atReadiness.ownMs.min, cold.atReadiness.ownMs.median, cold.atReadiness.ownMs.p95, cold.atReadiness.ownMs.max]),
    row([`  the host's CPU over the vend (its start-up's tail included)`, cold.atReadiness.hostCpuMs.min, cold.atReadiness.hostCpuMs.median, cold.atReadiness.hostCpuMs.p95, cold.atReadiness.hostCpuMs.max]),
    row([`bundle: module load (ms, ${startup.runs} runs)`, b.moduleLoadMs.min, b.moduleLoadMs.median, b.moduleLoadMs.p95, b.moduleLoadMs.max]),
    row(['bundle: process start → first answer (ms)', b.firstAnswerMs.min, b.firstAnswerMs.median, b.firstAnswerMs.p95, b.firstAnswerMs.max]),
    row(['unbundled: module load (ms)', u.moduleLoadMs.min, u.moduleLoadMs.median, u.moduleLoadMs.p95, u.moduleLoadMs.max]),
    row(['unbundled: process start → first answer (ms)', u.firstAnswerMs.min, u.firstAnswerMs.median, u.firstAnswerMs.p95, u.firstAnswerMs.max]),
    '',
    `Cold first vend upstream requests: ${upstream(cold.firstVendUpstream)} (the app's at start). ` +
      `Injected latency of the requests a first vend sent after start-up waits for, one after another: ${cold.afterStartup.floorMs} ms.`,
    '',
    ...traceLines(`Upstream requests of a cold host whose first vend came ${cold.settleMs} ms after start`, cold.afterStartup),
    '',
    ...traceLines('Upstream requests of a cold host whose first vend came the moment it listened', cold.atReadiness),
    '',
    `${cold.concurrent.requests} concurrent cold vends on a fresh host: ${cold.concurrent.ok2xx} answered 200 in ${cold.concurrent.allAnsweredMs} ms; ${upstream(cold.concurrent.upstream)}.`,
    `Deployment package: ${(startup.packageBytes / 1024 / 1024).toFixed(2)} MiB (${startup.packageFiles.join(', ')}).`,
    `${scale.workspaces.toLocaleString('en')} workspaces, ${scale.servicePrincipals.toLocaleString('en')} service principals and ${scale.grants.toLocaleString('en')} grants: RSS ${scale.afterStart.rssMiB} MiB after start, ` +
      `${scale.afterLoad.rssMiB} MiB (peak ${scale.afterLoad.peakMiB}) after ${scale.load.requests.toLocaleString('en')} vends at ${scale.load.connections} connections (${scale.load.reqPerSec} req/s).`,
  ];
}

/** The figures as markdown tables, then every check with its outcome. */
export function formatReport(r: BenchResults): string {
  const m = r.machine;
  return [
    `dbx-token-vending bench — ${r.date}, ${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverageAtStart} at start, ${r.totalSeconds} s`,
    '',
    ...sideBySideLines(r),
    '',
    ...floodLines(r),
    '',
    ...grantsLines(r),
    '',
    ...coldLines(r),
    '',
    `Audit rows: ${Object.entries(r.audit.rowsByOutcome).map(([o, n]) => `${n} ${o}`).join(', ') || 'none'}; 2xx replies in the whole bench: ${r.audit.responses2xx}.`,
    '',
    row(['check', 'outcome', 'detail']),
    rule(3),
    ...r.checks.map((c) => row([c.name, c.ok ? 'ok' : '**missed**', c.detail])),
  ].join('\n');
}

/** `latest.json` (the README's figure source) and `latest.md` (the same as tables). */
export async function writeResults(dir: string, r: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const md = join(dir, 'latest.md');
  await writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(md, `${formatReport(r)}\n`);
  return [json, md];
}
