import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The built CLI, exactly what the `dbx-vend` bin runs. */
export const CLI = join(__dirname, '..', '..', 'dist', 'src', 'client', 'cli.js');
/** A real Databricks client (the JS SDK) configured only by its environment. */
export const DATABRICKS_ME = join(__dirname, '..', '..', 'dist', 'src', 'dev', 'databricks-me.js');

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `dbx-vend` child: its output so far, and events to wait on. */
export class DbxVend {
  stdout = '';
  stderr = '';
  readonly finished: Promise<Finished>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (c: Buffer) => (this.stdout += c.toString('utf8')));
    this.child.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString('utf8')));
    this.finished = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves when `pattern` matches stdout or stderr; rejects if the process ends first or after `ms`. */
  async waitFor(pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    let ended = false;
    void this.finished.then(() => (ended = true));
    for (;;) {
      const hit = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
      if (hit) return hit;
      if (ended || Date.now() > deadline) throw new Error(`dbx-vend: ${pattern} not seen (ended ${ended}); stderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Runs `dbx-vend` to completion, bounded in time. */
export async function dbxVend(args: readonly string[], env: Record<string, string>, ms = 30_000): Promise<Finished> {
  const run = new DbxVend(args, env);
  const timer = setTimeout(() => run.kill('SIGKILL'), ms);
  try {
    return await run.finished;
  } finally {
    clearTimeout(timer);
  }
}

/** `export NAME='value'` lines into a map (values never contain a quote here). */
export function parseExports(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

/** A child that prints `ready {…}` (which credentials it was given), then exits 42 on SIGTERM. */
export const WAIT_FOR_SIGTERM = [
  process.execPath, '-e',
  "process.on('SIGTERM', () => process.exit(42)); setInterval(() => {}, 1000);" +
    "console.log('ready ' + JSON.stringify({ token: 'DATABRICKS_TOKEN' in process.env, caller: 'DBX_VEND_CALLER_TOKEN' in process.env, url: process.env.DATABRICKS_METADATA_SERVICE_URL !== undefined }))",
];
