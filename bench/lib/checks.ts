import { PER_CALLER_PER_MINUTE } from './caller-pool';
import type { BenchResults, Check } from './report';
import type { ServerRun } from './side-by-side';

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

/** Issue 8's targets, then the bench's own sanity checks; any one missed makes it exit non-zero. */
export function evaluate(r: Omit<BenchResults, 'checks' | 'date' | 'machine' | 'totalSeconds'>): Check[] {
  const runs = new Map(r.sideBySide.runs.map((run) => [run.server, run] as const));
  const insert = runs.get('bare + insert') as ServerRun;
  const vend = runs.get('warm vend') as ServerRun;
  const injectedSum = r.cold.injectedMs.keyVaultMs + r.cold.injectedMs.entraMs;
  const c = r.cold.concurrent;
  const issued = r.audit.rowsByOutcome.issued ?? 0;
  const others = Object.entries(r.audit.rowsByOutcome).filter(([outcome]) => outcome !== 'issued');
  const clean = r.sideBySide.runs.every((run) => run.non2xx + run.errors + run.timeouts === 0 && run.withToken === run.ok2xx);
  return [
    check('warm vend ≥ 1.5 × the bare server with one insert per request', r.ratios.vendOverInsert >= 1.5, `${vend.reqPerSec} vs ${insert.reqPerSec} req/s: ${r.ratios.vendOverInsert} ×`),
    check("warm p99 ≤ the insert server's p99 + 5 ms", r.ratios.p99OverInsertMs <= 5, `${vend.latencyMs.p99} vs ${insert.latencyMs.p99} ms`),
    check('0 upstream calls while warm', r.sideBySide.warmUpstreamCalls.keyVaultSecretReads + r.sideBySide.warmUpstreamCalls.entraTokenRequests === 0,
      `${r.sideBySide.warmUpstreamCalls.keyVaultSecretReads} Key Vault, ${r.sideBySide.warmUpstreamCalls.entraTokenRequests} Entra ID`),
    check(`${c.requests} concurrent cold vends: 1 Key Vault read and 1 Entra ID call for the SP`, c.upstream.keyVaultSecretReads === 1 && c.upstream.spTokenRequests === 1 && c.ok2xx === c.requests,
      `${c.upstream.keyVaultSecretReads} reads, ${c.upstream.spTokenRequests} SP tokens, ${c.ok2xx}/${c.requests} answered 200`),
    check('cold first vend ≤ injected latencies + 5 ms', r.cold.firstVendMs.median <= injectedSum + 5, `median ${r.cold.firstVendMs.median} ms vs ${injectedSum} + 5 ms`),
    check('module load → first answer ≤ 300 ms (bundle)', r.startup.bundle.firstAnswerMs.median <= 300, `median ${r.startup.bundle.firstAnswerMs.median} ms`),
    check('deployment package ≤ 5 MB', r.startup.packageBytes <= 5 * 1024 * 1024, `${r.startup.packageBytes} bytes`),
    check(`RSS ≤ 150 MB with ${r.scale.workspaces} workspaces and ${r.scale.grants} grants`, r.scale.afterLoad.rssMiB <= 150, `${r.scale.afterLoad.rssMiB} MiB after load`),
    check('every reply of every load run 200 with a token', clean, r.sideBySide.runs.map((run) => `${run.server}: ${run.non2xx + run.errors} failed`).join('; ')),
    check('audit: one issued row per 2xx reply', issued === r.audit.responses2xx, `${issued} rows, ${r.audit.responses2xx} 2xx`),
    check('audit: no denied or failed rows', others.length === 0, others.length === 0 ? 'none' : others.map(([o, n]) => `${o} ${n}`).join(', ')),
    check('no caller over the rate limit', r.callers.maxRequestsPerCaller <= PER_CALLER_PER_MINUTE, `at most ${r.callers.maxRequestsPerCaller} per caller, limit ${PER_CALLER_PER_MINUTE}/min`),
  ];
}
