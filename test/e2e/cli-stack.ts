import { afterAll, beforeAll, expect } from 'vitest';
import type { SandboxOptions } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';

export interface CliStack {
  readonly stack: Stack;
  readonly host: SpawnedHost;
  /** The environment a `dbx-vend` child needs: endpoint, a fresh caller token, the sandbox CA. */
  callerEnv(): Promise<Record<string, string>>;
  /** Keeps a finished run's output for the leak scan at the end of the file. */
  kept<T extends { stdout: string; stderr: string }>(run: T): T;
}

/**
 * Hooks for a file that runs `dbx-vend` as a child process: a sandbox with one host before its
 * tests; after them, no secret or token in anything a `dbx-vend` printed, then `finish()`.
 */
export function cliStack(options: SandboxOptions = {}): CliStack {
  const outputs: string[] = [];
  const ctx = {
    callerEnv: async () => ({ DBX_VEND_ENDPOINT: ctx.host.url, DBX_VEND_CALLER_TOKEN: await ctx.stack.callerToken({ expiresInSeconds: 600 }), NODE_EXTRA_CA_CERTS: ctx.stack.sandbox.caFile }),
    kept: <T extends { stdout: string; stderr: string }>(run: T): T => {
      outputs.push(run.stdout, run.stderr);
      return run;
    },
  } as unknown as CliStack & { stack: Stack; host: SpawnedHost };
  beforeAll(async () => {
    ctx.stack = await Stack.start(options);
    ctx.host = await ctx.stack.host();
  });
  afterAll(async () => {
    if (!ctx.stack) return;
    const needles = ctx.stack.secrets().flatMap((s) => (s.split('.').length === 3 ? [s, s.split('.')[2] ?? s] : [s]));
    try {
      expect(outputs.length).toBeGreaterThan(0);
      for (const text of outputs) for (const needle of needles) if (needle.length >= 16) expect(text.includes(needle), 'a token leaked into dbx-vend output').toBe(false);
    } finally {
      await ctx.stack.finish();
    }
  });
  return ctx;
}
