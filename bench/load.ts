import { startSandbox } from '../src/dev/sandbox';
import { reconcileLoad } from './lib/reconcile';

/**
 * `npm run load`: 10,000 vends at concurrency 100 through a local host on the sandbox, then the
 * reconciliation: 0 errors, one audit row per 200, one upstream call per SP per token lifetime,
 * host memory flat between the first and the last 2,000. Exits non-zero if any check fails.
 */
async function main(): Promise<number> {
  const sandbox = await startSandbox({ quiet: true });
  const timer = setTimeout(() => {
    console.error('load: ran past 5 minutes');
    process.exit(1);
  }, 300_000);
  try {
    const f = await reconcileLoad(sandbox, 10_000, 100);
    const checks: [string, boolean][] = [
      [`0 errors (${f.errors})`, f.errors === 0],
      [`every answer 200 with a token (${f.withToken}/${f.vends})`, f.withToken === f.vends],
      [`audit rows = 200 answers (${f.issuedRows} = ${f.ok200})`, f.issuedRows === f.ok200],
      [`Entra ID calls for the SP = 1 (${f.entraCalls})`, f.entraCalls === 1],
      [`Key Vault reads of its secret = 1 (${f.keyVaultReads})`, f.keyVaultReads === 1],
      [`memory flat: ${f.rssFirstMiB} MiB after the first 2,000, ${f.rssLastMiB} MiB after the last (≤ +25 %)`, f.rssLastMiB <= f.rssFirstMiB * 1.25],
    ];
    console.log(`load: ${f.vends} vends at concurrency ${f.connections} in ${f.seconds} s (${Math.round(f.vends / f.seconds)} req/s)`);
    for (const [what, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    clearTimeout(timer);
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
