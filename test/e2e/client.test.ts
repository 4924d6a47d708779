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

  it('dbx-vend token --mode pat creates at most one PAT while the audit store is down', async () => {
    const { sandbox } = env.stack;
    sandbox.workspace.resetCounters();
    sandbox.audit.setDown(true);
    let stderr = '';
    let stdout = '';
    try {
      const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { DBX_VEND_CALLER_TOKEN: await env.stack.callerToken() } };
      const code = await runCli(['token', '--endpoint', env.host.url, '--workspace', 'analytics-sandbox', '--mode', 'pat', '--lifetime', '600'], io);
      expect({ code, stdout }).toEqual({ code: 4, stdout: '' });
    } finally {
      sandbox.audit.setDown(false);
    }
    expect(stderr).toContain('audit_unavailable');
    expect(sandbox.workspace.requests('/api/2.0/token/create')).toBeLessThanOrEqual(1);
    // The client sent one request; the PAT that request created (if any) was not handed out.
    expect(sandbox.workspace.listTokens().length).toBeLessThanOrEqual(1);
  });
});
