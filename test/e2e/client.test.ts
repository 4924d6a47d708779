import { describe, expect, it } from 'vitest';
import { VendingClient } from '../../src/client';
import { runCli } from '../../src/client/cli';
import { stackWithHost } from './harness';

const env = stackWithHost();

describe('the client against the real service', () => {
  it('VendingClient vends once, serves the cache, and its headers open the workspace', async () => {
    const client = new VendingClient({ endpoint: env.host.url, getCallerToken: () => env.stack.callerToken() });
    env.stack.sandbox.authority.resetCounters();
    const [a, b] = await Promise.all([client.databricksHeaders('analytics-sandbox'), client.databricksHeaders('analytics-sandbox')]);
    expect(a).toEqual(b);
    env.stack.vendedTokens.push(a.Authorization?.slice('Bearer '.length) ?? '');
    expect((await fetch(`${env.stack.sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: a })).status).toBe(200);
    const issued = (await env.stack.auditRows()).filter((r) => r.outcome === 'issued');
    expect(issued).toHaveLength(1);
    const listed = await client.listWorkspaces();
    expect(listed.map((w) => w.name)).toEqual(['analytics-sandbox', 'analytics-scoped', 'ops-sandbox']);
  });

  it('dbx-vend prints env exports on stdout only', async () => {
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { DBX_VEND_CALLER_TOKEN: await env.stack.callerToken() } };
    const code = await runCli(['token', '--endpoint', env.host.url, '--workspace', 'analytics-sandbox', '--format', 'env'], io);
    expect(code).toBe(0);
    expect(stdout).toContain(`export DATABRICKS_HOST='${env.stack.sandbox.workspaceUrl}'`);
    const token = /export DATABRICKS_TOKEN='([^']+)'/.exec(stdout)?.[1] ?? '';
    expect(token.split('.')).toHaveLength(3);
    env.stack.vendedTokens.push(token);
    expect(stderr).not.toContain(token);
    const refused = await runCli(['token', '--endpoint', env.host.url, '--workspace', 'no-such-ws'], { ...io, stdout: { write: () => true } });
    expect(refused).toBe(3);
    expect(stderr).toContain('not_granted');
  });
});
