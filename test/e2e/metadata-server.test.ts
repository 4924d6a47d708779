// `dbx-vend metadata-server` as a child process against the real stack, consumed by the real
// Databricks JS SDK configured only by the variables it prints. The sandbox issues 40 s tokens
// and the server is asked for --min-validity 0 (the client adds its 30 s skew), so the served
// token is replaced about 10 s in: the SDK must keep working across that refresh.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABRICKS_ME, DbxVend, parseExports } from '../support/dbx-vend-process';
import { Stack } from './harness';
import type { SpawnedHost } from '../../src/dev/spawn-host';

let stack: Stack;
let host: SpawnedHost;
const outputs: string[] = [];

beforeAll(async () => {
  stack = await Stack.start({ tokenLifetimeSeconds: 40 });
  host = await stack.host();
});

afterAll(async () => {
  const needles = stack.secrets().flatMap((s) => (s.split('.').length === 3 ? [s, s.split('.')[2] ?? s] : [s]));
  try {
    for (const text of outputs) for (const needle of needles) if (needle.length >= 16) expect(text.includes(needle), 'a token leaked into dbx-vend output').toBe(false);
  } finally {
    await stack.finish();
  }
});

async function callerEnv(): Promise<Record<string, string>> {
  return { DBX_VEND_ENDPOINT: host.url, DBX_VEND_CALLER_TOKEN: await stack.callerToken({ expiresInSeconds: 600 }), NODE_EXTRA_CA_CERTS: stack.sandbox.caFile };
}

/** Runs the SDK script with exactly `env` (plus PATH and the sandbox CA); resolves with its output. */
function runSdk(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DATABRICKS_ME, ...args], { env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: stack.sandbox.caFile, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('dbx-vend metadata-server', () => {
  it('serves the Databricks SDK through a refresh, with nothing but the printed variables', async () => {
    const server = new DbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--min-validity', '0'], await callerEnv());
    try {
      await server.waitFor(/^export DATABRICKS_AUTH_TYPE=.*$/m);
      const vars = parseExports(server.stdout);
      expect(Object.keys(vars)).toEqual(['DATABRICKS_HOST', 'DATABRICKS_METADATA_SERVICE_URL', 'DATABRICKS_AUTH_TYPE']);
      expect(vars.DATABRICKS_HOST).toBe(stack.sandbox.workspaceUrl);
      expect(vars.DATABRICKS_AUTH_TYPE).toBe('metadata-service');
      expect(vars.DATABRICKS_METADATA_SERVICE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}$/);

      // One SDK process, a call every 1.5 s for 15 s: the first token is replaced at about 10 s.
      const sdk = await runSdk(vars, ['11', '1500']);
      expect(sdk.stderr).toBe('');
      const rounds = sdk.stdout.trim().split('\n').map((l) => JSON.parse(l) as { userName: string; authType: string });
      expect(rounds).toHaveLength(11);
      for (const r of rounds) expect(r).toMatchObject({ userName: stack.sandbox.apps.servicePrincipals['etl-sp'].clientId, authType: 'metadata-service' });
      expect(server.stderr.match(/serving a new token/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
      const issued = (await stack.auditRows()).filter((r) => r.outcome === 'issued' && r.mode === 'aad');
      expect(issued.length).toBeGreaterThanOrEqual(2);
    } finally {
      server.kill('SIGTERM');
      const end = await server.finished;
      outputs.push(end.stdout, end.stderr);
      expect(end.code).toBe(0);
    }
  }, 90_000);
});
