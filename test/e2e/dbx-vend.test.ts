// `dbx-vend metadata-server` and `dbx-vend exec` as child processes against the real stack, consumed by the real
// Databricks JS SDK configured only by the variables it prints. The sandbox issues 36 s tokens
// and the server is asked for --min-validity 0 (the client adds its 30 s skew), so the served
// token is replaced about 6 s in: the SDK must keep working across that refresh.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DATABRICKS_ME, DbxVend, dbxVend, parseExports, WAIT_FOR_SIGTERM } from '../support/dbx-vend-process';
import { cliStack } from './cli-stack';

const env = cliStack({ tokenLifetimeSeconds: 36 });

/** Runs the SDK script with exactly `env` (plus PATH and the sandbox CA); resolves with its output. */
function runSdk(vars: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DATABRICKS_ME, ...args], { env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: env.stack.sandbox.caFile, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('dbx-vend metadata-server', () => {
  it('serves the Databricks SDK through a refresh, with nothing but the printed variables', async () => {
    const server = new DbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--min-validity', '0'], await env.callerEnv());
    try {
      await server.waitFor(/^export DATABRICKS_AUTH_TYPE=.*$/m);
      const vars = parseExports(server.stdout);
      expect(Object.keys(vars)).toEqual(['DATABRICKS_HOST', 'DATABRICKS_METADATA_SERVICE_URL', 'DATABRICKS_AUTH_TYPE']);
      expect(vars.DATABRICKS_HOST).toBe(env.stack.sandbox.workspaceUrl);
      expect(vars.DATABRICKS_AUTH_TYPE).toBe('metadata-service');
      expect(vars.DATABRICKS_METADATA_SERVICE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}$/);

      // One SDK process, a call every 1.5 s for 12 s: the first token is replaced at about 6 s.
      const sdk = await runSdk(vars, ['9', '1500']);
      expect(sdk.stderr).toBe('');
      const rounds = sdk.stdout.trim().split('\n').map((l) => JSON.parse(l) as { userName: string; authType: string });
      expect(rounds).toHaveLength(9);
      for (const r of rounds) expect(r).toMatchObject({ userName: env.stack.sandbox.apps.servicePrincipals['etl-sp'].clientId, authType: 'metadata-service' });
      expect(server.stderr.match(/serving a new token/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
      const issued = (await env.stack.auditRows()).filter((r) => r.outcome === 'issued' && r.mode === 'aad');
      expect(issued.length).toBeGreaterThanOrEqual(2);
    } finally {
      server.kill('SIGTERM');
      const end = env.kept(await server.finished);
      expect(end.code).toBe(0);
    }
  }, 90_000);
});

describe('dbx-vend metadata-server: protocol and flags', () => {
  it('answers only GET with version 1 and the workspace host, at its path, on the --port asked for', async () => {
    const port = await freePort();
    const server = new DbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--port', String(port), '--min-validity', '0'], await env.callerEnv());
    try {
      await server.waitFor(/^export DATABRICKS_AUTH_TYPE=.*$/m);
      const url = parseExports(server.stdout).DATABRICKS_METADATA_SERVICE_URL ?? '';
      expect(new URL(url).port).toBe(String(port));
      const host = env.stack.sandbox.workspaceUrl;
      const get = (headers: Record<string, string>, init: { url?: string; method?: string } = {}): Promise<Response> =>
        fetch(init.url ?? url, { method: init.method ?? 'GET', headers });
      const ok = await get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('cache-control')).toBe('no-store');
      const body = (await ok.json()) as { access_token: string; token_type: string; expires_on: number };
      env.stack.vendedTokens.push(body.access_token);
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_on', 'token_type']);
      expect(body.token_type).toBe('Bearer');
      expect(Number.isInteger(body.expires_on)).toBe(true);
      expect(body.expires_on).toBeGreaterThan(Date.now() / 1000 + 20);
      // A trailing slash or an upper-case host is still the same workspace.
      expect((await get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': `${host.toUpperCase()}/` })).status).toBe(200);

      const statuses = await Promise.all([
        get({ 'X-Databricks-Host': host }),
        get({ 'X-Databricks-Metadata-Version': '2', 'X-Databricks-Host': host }),
        get({ 'X-Databricks-Metadata-Version': '1' }),
        get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': 'https://adb-1.1.azuredatabricks.net' }),
        get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host }, { url: `${new URL(url).origin}/${'0'.repeat(36)}` }),
        get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host }, { url: `${url}?x=1` }),
        get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host }, { method: 'POST' }),
        get({ 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': host }, { method: 'DELETE' }),
      ]);
      expect(statuses.map((r) => r.status)).toEqual([400, 400, 404, 404, 404, 404, 405, 405]);
      for (const r of statuses) expect(await r.text()).not.toContain('eyJ');
    } finally {
      server.kill('SIGINT');
      const end = env.kept(await server.finished);
      expect(end.code).toBe(0);
    }
  });

  it('--exec runs the command without DATABRICKS_TOKEN, forwards SIGTERM and exits with its code', async () => {
    const run = new DbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--min-validity', '0', '--exec', '--', ...WAIT_FOR_SIGTERM], { ...(await env.callerEnv()), DATABRICKS_TOKEN: 'dapi-from-the-parent-shell' });
    const ready = await run.waitFor(/^ready (.*)$/m);
    expect(JSON.parse(ready[1] ?? '')).toEqual({ token: false, caller: false, url: true });
    run.kill('SIGTERM');
    const end = env.kept(await run.finished);
    expect(end.code).toBe(42);
    expect(end.stdout).not.toContain('export ');
  });

  it('--exec gives the Databricks SDK its credentials', async () => {
    const end = env.kept(await dbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--min-validity', '0', '--exec', '--', process.execPath, DATABRICKS_ME], await env.callerEnv()));
    expect(end.code).toBe(0);
    expect(JSON.parse(end.stdout)).toMatchObject({ authType: 'metadata-service', userName: env.stack.sandbox.apps.servicePrincipals['etl-sp'].clientId });
  });

  it('fails before printing or starting anything without a grant, or with bad usage', async () => {
    const callerEnv = await env.callerEnv();
    const noGrant = env.kept(await dbxVend(['metadata-server', '--workspace', 'no-such-ws'], callerEnv));
    expect({ code: noGrant.code, stdout: noGrant.stdout }).toEqual({ code: 3, stdout: '' });
    expect(noGrant.stderr).toContain("dbx-vend: not_granted");
    const noGrantExec = env.kept(await dbxVend(['metadata-server', '--workspace', 'no-such-ws', '--exec', '--', process.execPath, '-e', 'console.log("ran")'], callerEnv));
    expect({ code: noGrantExec.code, stdout: noGrantExec.stdout }).toEqual({ code: 3, stdout: '' });
    for (const args of [['--port', '70000'], ['--min-validity', 'soon'], ['--exec'], ['--', 'true'], ['--mode', 'pat']]) {
      const bad = env.kept(await dbxVend(['metadata-server', '--workspace', 'analytics-sandbox', ...args], callerEnv));
      expect({ args, code: bad.code, stdout: bad.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(bad.stderr).toMatch(/^dbx-vend: /);
    }
  });
});

function freePort(): Promise<number> {
  const probe = createServer();
  return new Promise((resolve) => probe.listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as AddressInfo;
    probe.close(() => resolve(port));
  }));
}
