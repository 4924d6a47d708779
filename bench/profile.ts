import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../src/dev/sandbox';
import { spawnHost } from '../src/dev/spawn-host';
import { CallerPool } from './lib/caller-pool';
import { readProfile, summarizeProfile } from './lib/cpu-profile';
import { sampleProcess } from './lib/host-process';
import { runLoad } from './lib/load';
import { vendOnce } from './lib/vend-once';

/**
 * `npm run bench:profile`: the host (`npm run host`, against the sandbox) under `node --cpu-prof`
 * while warm vends run at 32 connections; prints the CPU per vend and where it goes (self time per
 * function and per package). Bounded: one warm-up and one run of REQUESTS requests.
 */
const REQUESTS = Number(process.env.PROFILE_REQUESTS ?? '3000');
const CONNECTIONS = 32;

async function main(): Promise<void> {
  const sandbox = await startSandbox({ quiet: true });
  const dir = await mkdtemp(join(tmpdir(), 'vend-profile-'));
  try {
    const pool = await CallerPool.create(sandbox, 400);
    const host = await spawnHost({ ...sandbox.hostEnv(), NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` });
    try {
      await vendOnce(host.url, pool.next());
      await runLoad(pool, { url: host.url, connections: 10, amount: 500 });
      const before = await sampleProcess(host.pid);
      const run = await runLoad(pool, { url: host.url, connections: CONNECTIONS, amount: REQUESTS });
      const after = await sampleProcess(host.pid);
      const cpuMsPerVend = ((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, run.requests);
      console.log(`${run.requests} vends at ${CONNECTIONS} connections: ${run.reqPerSec} req/s, p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms, host CPU ${cpuMsPerVend.toFixed(2)} ms/vend, failed ${run.non2xx + run.errors}`);
    } finally {
      await host.stop();
    }
    const summary = summarizeProfile(await readProfile(dir), 25);
    console.log(`\nprofile of the whole host life: ${summary.busyMs} ms on CPU of ${summary.sampledMs} ms sampled`);
    console.log('\nself time by origin:');
    for (const e of summary.byOrigin) console.log(`${e.share.toFixed(1).padStart(6)} %  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}`);
    console.log('\ntop functions by self time:');
    for (const e of summary.top) console.log(`${e.share.toFixed(1).padStart(6)} %  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}`);
  } finally {
    await sandbox.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('profile failed:', err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
