import { PER_CALLER_PER_MINUTE } from './caller-pool';
import type { ColdFigures } from './cold';
import type { Check } from './report';
import type { WarmFigures, WarmRun } from './warm';

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

function cleanLoad(label: string, run: WarmRun): Check {
  const bad = run.non2xx + run.errors + run.timeouts + (run.probe?.failed ?? 0);
  return check(`${label}: every reply 200 with a token`, bad === 0 && run.ok2xx > 0 && run.withToken === run.ok2xx,
    `${run.withToken} with a token, ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts`);
}

/**
 * API grants are matched in memory: with them loaded, warm throughput stays within the noise of
 * the same run without them (measured minutes apart on a shared machine, hence a 15 % margin).
 */
function holdsThroughput(run: WarmRun, baseline: WarmRun | undefined): Check {
  const ratio = baseline && baseline.reqPerSec > 0 ? run.reqPerSec / baseline.reqPerSec : 0;
  return check(`${run.connections} connections: throughput with API grants loaded holds`, ratio >= 0.85, `${run.reqPerSec} vs ${baseline?.reqPerSec ?? '?'} req/s (${Math.round(ratio * 100)} %)`);
}

/** Every expectation of the bench; any one failing makes it exit non-zero. */
export function evaluate(input: {
  cold: ColdFigures; warm: WarmFigures; withGrants: WarmFigures; maxPerCaller: number; rowsByOutcome: Record<string, number>; responses2xx: number;
}): Check[] {
  const { cold, warm, rowsByOutcome, responses2xx } = input;
  const issued = rowsByOutcome.issued ?? 0;
  const others = Object.entries(rowsByOutcome).filter(([outcome]) => outcome !== 'issued');
  return [
    check('cold: every first vend answered 200 with a token', cold.ok2xx === cold.hosts, `${cold.ok2xx}/${cold.hosts}`),
    check('cold: each host read the secret once and minted once', cold.hostsWithOneReadAndOneMint === cold.hosts, `${cold.hostsWithOneReadAndOneMint}/${cold.hosts}`),
    check('warm: first vend answered 200', warm.firstVendStatus === 200, `status ${warm.firstVendStatus}`),
    cleanLoad('warm-up', warm.warmup),
    ...warm.runs.map((run) => cleanLoad(`${run.connections} connections`, run)),
    check('under load: one Key Vault secret read', warm.upstream.keyVaultSecretReads === 1, `${warm.upstream.keyVaultSecretReads}`),
    check('under load: one Entra token request for the SP', warm.upstream.spTokenRequests === 1, `${warm.upstream.spTokenRequests}`),
    check("under load: one Entra token request for the app's identity", warm.upstream.appTokenRequests === 1, `${warm.upstream.appTokenRequests}`),
    ...input.withGrants.runs.map((run) => cleanLoad(`${run.connections} connections, API grants loaded`, run)),
    ...input.withGrants.runs.map((run, i) => holdsThroughput(run, warm.runs[i])),
    check('audit: one issued row per 2xx reply', issued === responses2xx, `${issued} rows, ${responses2xx} 2xx`),
    check('audit: no denied or failed rows', others.length === 0, others.length === 0 ? 'none' : others.map(([o, n]) => `${o} ${n}`).join(', ')),
    check('no caller over the rate limit', input.maxPerCaller <= PER_CALLER_PER_MINUTE, `at most ${input.maxPerCaller} per caller, limit ${PER_CALLER_PER_MINUTE}/min`),
  ];
}
