import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { summarize } from './stats';
import type { Summary } from './stats';

const execFileAsync = promisify(execFile);

export interface StartupFigures {
  /** deploy/: what azd and the az path publish. */
  readonly packageBytes: number;
  readonly packageFiles: readonly string[];
  /** Process start to the first answered request (GET /api/health through the registered handler). */
  readonly bundle: { readonly moduleLoadMs: Summary; readonly firstAnswerMs: Summary };
  /** The same for the unbundled build (dist/, node_modules), for comparison. */
  readonly unbundled: { readonly moduleLoadMs: Summary; readonly firstAnswerMs: Summary };
  readonly runs: number;
}

interface Probe {
  loadStartedMs: number;
  loadedMs: number;
  answers: { status: number; sinceStartMs: number }[];
}

async function probe(repoRoot: string, packageDir: string, env: Record<string, string>, runs: number): Promise<{ moduleLoadMs: Summary; firstAnswerMs: Summary }> {
  const load: number[] = [];
  const first: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const { stdout } = await execFileAsync(process.execPath, [join(repoRoot, 'scripts', 'probe-package.mjs'), packageDir], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
    const result = JSON.parse(stdout) as Probe;
    const answer = result.answers[0];
    if (answer?.status !== 200) throw new Error(`the package under ${packageDir} answered ${answer?.status} to its first request`);
    load.push(result.loadedMs - result.loadStartedMs);
    first.push(answer.sinceStartMs);
  }
  return { moduleLoadMs: summarize(load), firstAnswerMs: summarize(first) };
}

/**
 * Cold start as the Functions worker sees it: a process that loads the package's `main` (through
 * scripts/probe-package.mjs, which stands in for the worker) and answers its first request, for
 * the bundle in deploy/ and for the unbundled build. `env` holds the app settings.
 */
export async function measureStartup(repoRoot: string, env: Record<string, string>, runs: number): Promise<StartupFigures> {
  const deployDir = join(repoRoot, 'deploy');
  const packageFiles = (await readdir(deployDir)).sort();
  let packageBytes = 0;
  for (const file of packageFiles) packageBytes += (await stat(join(deployDir, file))).size;
  const bundle = await probe(repoRoot, deployDir, env, runs);
  const unbundled = await probe(repoRoot, repoRoot, env, runs);
  return { packageBytes, packageFiles, bundle, unbundled, runs };
}
