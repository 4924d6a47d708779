import { readFileSync } from 'node:fs';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import { countAuditRows } from './audit-rows';
import { CallerPool, PER_CALLER_PER_MINUTE } from './caller-pool';
import { runLoad } from './load';

export interface ReconcileFigures {
  readonly vends: number;
  readonly connections: number;
  readonly seconds: number;
  readonly ok200: number;
  readonly withToken: number;
  /** Non-2xx answers, socket errors and timeouts together. */
  readonly errors: number;
  readonly issuedRows: number;
  /** Token endpoint requests for the SP (one token lifetime covers the run). */
  readonly entraCalls: number;
  readonly keyVaultReads: number;
  /** Host resident memory after the first and after the last fifth of the vends, MiB. */
  readonly rssFirstMiB: number;
  readonly rssLastMiB: number;
}

const rssMiB = (pid: number): number => {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
};

/**
 * Vends `vends` tokens through a fresh host at `connections` concurrency, in five equal slices,
 * and reconciles: every answer a 200 with a token, one `issued` audit row per 200, one Entra ID
 * call and one Key Vault read for the SP, and host memory after the last slice against the first.
 */
export async function reconcileLoad(sandbox: Sandbox, vends: number, connections: number): Promise<ReconcileFigures> {
  const host = await spawnHost(sandbox.hostEnv());
  try {
    // Enough distinct callers that none reaches the per-caller limit even if the run took one minute.
    const pool = await CallerPool.create(sandbox, Math.ceil(vends / (PER_CALLER_PER_MINUTE / 2)));
    const sp = sandbox.apps.servicePrincipals['etl-sp'];
    sandbox.authority.resetCounters();
    sandbox.vault.resetCounters();
    const issuedBefore = (await countAuditRows(sandbox)).issued ?? 0;
    const slice = Math.ceil(vends / 5);
    const started = Date.now();
    let ok200 = 0, withToken = 0, errors = 0, rssFirstMiB = 0;
    for (let i = 0; i < 5; i++) {
      const run = await runLoad(pool, { url: host.url, connections, amount: slice });
      ok200 += run.ok2xx;
      withToken += run.withToken;
      errors += run.non2xx + run.errors + run.timeouts;
      if (i === 0) rssFirstMiB = rssMiB(host.pid);
    }
    return {
      vends: slice * 5,
      connections,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      ok200,
      withToken,
      errors,
      issuedRows: ((await countAuditRows(sandbox)).issued ?? 0) - issuedBefore,
      entraCalls: sandbox.authority.tokenRequests({ clientId: sp.clientId }),
      keyVaultReads: sandbox.vault.secretReads(sp.secretName),
      rssFirstMiB,
      rssLastMiB: rssMiB(host.pid),
    };
  } finally {
    await host.stop();
  }
}
