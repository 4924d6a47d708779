import { PER_CALLER_PER_MINUTE } from './caller-pool';
import type { BenchResults, Check } from './report';
import type { ServerRun } from './side-by-side';
import { round2, summarize } from './stats';

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

/** Issue 8's targets, then the bench's own sanity checks; any one missed makes it exit non-zero. */
export function evaluate(r: Omit<BenchResults, 'checks' | 'date' | 'machine' | 'totalSeconds'>): Check[] {
  const median = (server: ServerRun['server'], of: (run: ServerRun) => number): number => summarize(r.sideBySide.runs.filter((run) => run.server === server).map(of)).median;
  const rate = (run: ServerRun): number => run.reqPerSec;
  const p99 = (run: ServerRun): number => run.latencyMs.p99;
  const machineCpu = (run: ServerRun): number => run.cpuMsPerRequest + run.storeCpuMsPerRequest + run.clientCpuMsPerRequest;
  const cpuRounds = r.sideBySide.runs
    .filter((run) => run.server === 'warm vend')
    .map((vend) => [machineCpu(r.sideBySide.runs.find((run) => run.server === 'bare + insert' && run.round === vend.round) ?? vend), machineCpu(vend)] as const);
  const cpuRatios = cpuRounds.map(([insert, vend]) => round2(insert / Math.max(0.01, vend)));
  const busy = (server: ServerRun['server'], cpu: (run: ServerRun) => number): string =>
    r.sideBySide.runs.filter((run) => run.server === server).map((run) => Math.round((run.reqPerSec * cpu(run)) / 10)).join(' / ');
  const cycles = r.sideBySide.runs
    .flatMap((run) => (run.server === 'warm vend' && run.auditBatches ? [run.auditBatches] : []))
    .map((b) => `${b.rowsPerBatch} rows: ${b.heldMs} + ${b.betweenMs} ms`)
    .join(', ');
  const injectedSum = r.cold.injectedMs.keyVaultMs + r.cold.injectedMs.entraMs;
  const c = r.cold.concurrent;
  const issued = r.audit.rowsByOutcome.issued ?? 0;
  const others = Object.entries(r.audit.rowsByOutcome).filter(([outcome]) => outcome !== 'issued');
  const floodAnswers = Object.values(r.flood.floodAnswers).reduce((a, b) => a + b, 0);
  const f = r.flood;
  const floodOk = f.quiet.success === 1 && f.flooded.success === 1 && (f.flooded.p99Ms <= f.quiet.p99Ms * 1.1 || f.flooded.p99Ms - f.quiet.p99Ms <= f.quietP99SpreadMs);
  const grantsTolerance = Math.max(0.05, r.apiGrants.noise);
  const grantsOk = r.apiGrants.with.reqPerSec >= r.apiGrants.without.reqPerSec * (1 - grantsTolerance) && r.apiGrants.runs.every((run) => run.failed === 0);
  const clean = r.sideBySide.runs.every((run) => run.non2xx + run.errors + run.timeouts === 0 && run.withToken === run.ok2xx);
  return [
    check('warm vend ≥ 1.5 × the bare server with one insert per request (median of the rounds)', r.ratios.vendOverInsert >= 1.5,
      `${r.ratios.vendOverInsert} × (rounds ${r.ratios.vendOverInsertByRound.join(', ')}); median ${median('warm vend', rate)} vs ${median('bare + insert', rate)} req/s; ` +
        `CPU the machine spends per reply (server + store + client), by round: ${cpuRounds.map(([i, v]) => `insert ${round2(i)} vs vend ${round2(v)} ms`).join(', ')} ` +
        `(the same CPU serves ${cpuRatios.join(', ')} × as many vends); a core's share busy, by round: vend host ${busy('warm vend', (run) => run.cpuMsPerRequest)} %, ` +
        `azurite under the insert server ${busy('bare + insert', (run) => run.storeCpuMsPerRequest)} %; both cores' share busy (server + store + client), by round: ` +
        `insert ${busy('bare + insert', (run) => machineCpu(run) / 2)} %, vend ${busy('warm vend', (run) => machineCpu(run) / 2)} %; ` +
        `the vend's audit batches, by round (rows a batch: the store held it + from its answer to the next batch's arrival): ${cycles} (see bench/README.md)`),
    check("warm p99 ≤ the insert server's p99 + 5 ms (median of the rounds' differences)", r.ratios.p99OverInsertMs <= 5,
      `${r.ratios.p99OverInsertMs} ms; median p99 ${median('warm vend', p99)} vs ${median('bare + insert', p99)} ms`),
    check('0 upstream calls while warm', r.sideBySide.warmUpstreamCalls.keyVaultSecretReads + r.sideBySide.warmUpstreamCalls.entraTokenRequests === 0,
      `${r.sideBySide.warmUpstreamCalls.keyVaultSecretReads} Key Vault, ${r.sideBySide.warmUpstreamCalls.entraTokenRequests} Entra ID`),
    check(`${c.requests} concurrent cold vends: 1 Key Vault read and 1 Entra ID call for the SP`, c.upstream.keyVaultSecretReads === 1 && c.upstream.spTokenRequests === 1 && c.ok2xx === c.requests,
      `${c.upstream.keyVaultSecretReads} reads, ${c.upstream.spTokenRequests} SP tokens, ${c.ok2xx}/${c.requests} answered 200`),
    check('cold first vend (after start-up) ≤ the injected latency of the upstream requests it waits for + 5 ms', r.cold.afterStartup.ms.median <= r.cold.afterStartup.floorMs + 5,
      `median ${r.cold.afterStartup.ms.median} ms vs ${r.cold.afterStartup.floorMs} + 5 ms (as written, Key Vault + Entra ID = ${injectedSum} ms: see bench/README.md); ` +
        `the upstream services alone held its requests ${r.cold.afterStartup.heldMs.median} ms (median: the injected latency, the sandbox's own handling of each request ` +
        `and the audit batch's write), so it could not be under that with no time of ours at all`),
    check('cold first vend (after start-up): our own time ≤ 5 ms (the vend less the time Key Vault, Entra ID and the audit table held its requests)', r.cold.afterStartup.ownMs.median <= 5,
      `median ${r.cold.afterStartup.ownMs.median} ms of ${r.cold.afterStartup.ms.median} ms; the host's CPU over the vend (all its threads) ${r.cold.afterStartup.hostCpuMs.median} ms: ` +
        `our own time is the host's work, not waiting (see bench/README.md, "Cold first vend")`),
    check('module load → first answer ≤ 300 ms (bundle)', r.startup.bundle.firstAnswerMs.median <= 300, `median ${r.startup.bundle.firstAnswerMs.median} ms`),
    check('deployment package ≤ 5 MB', r.startup.packageBytes <= 5 * 1024 * 1024, `${r.startup.packageBytes} bytes`),
    check(`RSS ≤ 150 MB with ${r.scale.workspaces} workspaces and ${r.scale.grants} grants`, r.scale.afterLoad.rssMiB <= 150, `${r.scale.afterLoad.rssMiB} MiB after load`),
    check('every reply of every load run 200 with a token', clean, r.sideBySide.runs.map((run) => `${run.server}${run.round ? ` ${run.round}` : ''}: ${run.non2xx + run.errors} failed`).join('; ')),
    check('audit: one issued row per 2xx reply', issued === r.audit.responses2xx, `${issued} rows, ${r.audit.responses2xx} 2xx`),
    check('audit: no rows but issued, and denied ones only from the refusal flood (under 1 per 10 refusals)', others.every(([o, n]) => o === 'denied' && n < floodAnswers / 10),
      others.length === 0 ? 'none' : `${others.map(([o, n]) => `${o} ${n}`).join(', ')} for ${floodAnswers} refusals`),
    check('refusal flood: granted callers all served, p99 beside it within 10 % (or the unflooded phases\' own spread) of without', floodOk,
      `success ${r.flood.quiet.success} → ${r.flood.flooded.success}; p99 ${r.flood.quiet.p99Ms} → ${r.flood.flooded.p99Ms} ms (${r.flood.p99Ratio} ×, spread ${r.flood.quietP99SpreadMs} ms)`),
    check(`${r.apiGrants.apiGrants} API grants: no loss of warm vend throughput (tolerance: the no-grants host's own run-to-run difference, at least 5 %)`, grantsOk,
      `${r.apiGrants.with.reqPerSec} vs ${r.apiGrants.without.reqPerSec} req/s (${r.apiGrants.ratio} ×), tolerance ${Math.round(grantsTolerance * 100)} %; CPU ${r.apiGrants.with.cpuMsPerRequest} vs ${r.apiGrants.without.cpuMsPerRequest} ms/req`),
    check('no caller over the rate limit', r.callers.maxRequestsPerCaller <= PER_CALLER_PER_MINUTE, `at most ${r.callers.maxRequestsPerCaller} per caller, limit ${PER_CALLER_PER_MINUTE}/min`),
  ];
}
