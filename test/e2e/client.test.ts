import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendingClient } from '../../src/client';
import { runCli } from '../../src/client/cli';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';

let stack: Stack;
let host: SpawnedHost;

beforeAll(async () => ({ stack, host } = await Stack.withHost()));
afterAll(async () => {
  await stack?.expectNoLeaks();
  await stack?.stop();
});

describe('the client against the real service', () => {
  it('VendingClient vends once, serves the cache, and its headers open the workspace', async () => {
    const client = new VendingClient({ endpoint: host.url, getCallerToken: () => stack.callerToken() });
    stack.sandbox.authority.resetCounters();
    const [a, b] = await Promise.all([client.databricksHeaders('analytics-sandbox'), client.databricksHeaders('analytics-sandbox')]);
    expect(a).toEqual(b);
    stack.vendedTokens.push(a.Authorization?.slice('Bearer '.length) ?? '');
    expect((await fetch(`${stack.sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: a })).status).toBe(200);
    const issued = (await stack.auditRows()).filter((r) => r.outcome === 'issued');
    expect(issued).toHaveLength(1);
    const listed = await client.listWorkspaces();
    expect(listed.map((w) => w.name)).toEqual(['analytics-sandbox', 'ops-sandbox']);
  });

  it('dbx-vend prints env exports on stdout only', async () => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { DBX_VEND_CALLER_TOKEN: await stack.callerToken() } };
    const code = await runCli(['token', '--endpoint', host.url, '--workspace', 'analytics-sandbox', '--format', 'env'], io);
    expect(code).toBe(0);
    expect(stdout).toContain(`export DATABRICKS_HOST='${stack.sandbox.workspaceUrl}'`);
    const token = /export DATABRICKS_TOKEN='([^']+)'/.exec(stdout)?.[1] ?? '';
    expect(token.split('.')).toHaveLength(3);
    stack.vendedTokens.push(token);
    expect(stderr).not.toContain(token);
    const refused = await runCli(['token', '--endpoint', host.url, '--workspace', 'no-such-ws'], { ...io, stdout: { write: () => true } });
    expect(refused).toBe(3);
    expect(stderr).toContain('unknown_workspace');
  });
});
