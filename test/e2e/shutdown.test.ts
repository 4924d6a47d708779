import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from './harness';

const DIST = join(__dirname, '..', '..', 'dist', 'src', 'dev');
let stack: Stack;
const started: ChildProcess[] = [];

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await stack?.finish();
});

/** Live (non-zombie) processes: pid → parent pid, read from /proc. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z' && state !== 'X') table.set(Number(entry), Number(ppid));
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

function descendantsOf(root: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of table) {
      if (parent !== pid) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function alive(pids: readonly number[]): number[] {
  const table = processTable();
  return pids.filter((pid) => table.has(pid));
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

function run(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (!ready.test(output)) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

describe('clean shutdown', () => {
  it.each(['SIGINT', 'SIGKILL'] as const)('npm start (start.js) on %s: every process it started is gone within seconds', async (signal) => {
    const start = await run([join(DIST, 'start.js')], { PORT: '0' }, /Press Ctrl-C/);
    const children = descendantsOf(start.pid ?? -1);
    expect(children.length).toBeGreaterThanOrEqual(2); // azurite and the function host at least
    start.kill(signal);
    // Counted by pid, not machine-wide: other tests start and stop processes meanwhile.
    expect(await waitFor(() => alive([start.pid ?? -1, ...children]).length === 0, 10_000)).toBe(true);
  }, 90_000);

  it('npm run host (host.js): stops on SIGTERM, and exits when its parent is killed -9', async () => {
    const env = stack.sandbox.hostEnv();
    const host = await run([join(DIST, 'host.js')], { ...env, PORT: '0' }, /listening on/);
    host.kill('SIGTERM');
    expect(await waitFor(() => alive([host.pid ?? -1]).length === 0, 5_000)).toBe(true);

    // A parent (as npm is for `npm run host`) that is killed with SIGKILL: no pipe tells the host.
    const script = `require('node:child_process').spawn(process.execPath, [${JSON.stringify(join(DIST, 'host.js'))}], { stdio: 'inherit' }); setInterval(() => {}, 1e6);`;
    const parent = await run(['-e', script], { ...env, PORT: '0' }, /listening on/);
    const [child] = descendantsOf(parent.pid ?? -1);
    expect(child).toBeGreaterThan(0);
    parent.kill('SIGKILL');
    expect(await waitFor(() => alive([child ?? -1]).length === 0, 5_000)).toBe(true);
  }, 60_000);
});
