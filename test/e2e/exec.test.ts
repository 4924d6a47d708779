// `dbx-vend exec` as a child process against the real stack: the Databricks JS SDK reads
// DATABRICKS_HOST/DATABRICKS_TOKEN; a PAT is revoked when the child exits, also on a signal.
import { describe, expect, it } from 'vitest';
import { DATABRICKS_ME, DbxVend, dbxVend, WAIT_FOR_SIGTERM } from '../support/dbx-vend-process';
import { cliStack } from './cli-stack';

const env = cliStack();

describe('dbx-vend exec', () => {
  it('aad: the Databricks SDK works from DATABRICKS_HOST/DATABRICKS_TOKEN alone', async () => {
    const end = env.kept(await dbxVend(['exec', '--workspace', 'analytics-sandbox', '--min-validity', '0', '--', process.execPath, DATABRICKS_ME], await env.callerEnv()));
    expect({ code: end.code, stderr: end.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(end.stdout)).toMatchObject({ authType: 'pat', userName: env.stack.sandbox.apps.servicePrincipals['etl-sp'].clientId });
  });

  it('pat: the PAT works for the child and is revoked when it exits, also after a forwarded signal', async () => {
    const callerEnv = await env.callerEnv();
    const etl = env.stack.sandbox.apps.servicePrincipals['etl-sp'].clientId;
    const end = env.kept(await dbxVend(['exec', '--workspace', 'analytics-sandbox', '--mode', 'pat', '--lifetime', '600', '--purpose', 'exec e2e', '--', process.execPath, DATABRICKS_ME], callerEnv));
    expect({ code: end.code, stderr: end.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/revoked/) as unknown });
    expect(JSON.parse(end.stdout)).toMatchObject({ userName: etl });
    expect(end.stderr).toMatch(/dbx-vend: revoked PAT \S+ in analytics-sandbox\./);
    expect(env.stack.sandbox.workspace.listTokens()).toEqual([]);
    const issued = (await env.stack.auditRows()).find((r) => r.outcome === 'issued' && r.mode === 'pat');
    expect(issued).toMatchObject({ purpose: 'exec e2e' });

    const run = new DbxVend(['exec', '--workspace', 'analytics-sandbox', '--mode', 'pat', '--', ...WAIT_FOR_SIGTERM], { ...callerEnv, DATABRICKS_METADATA_SERVICE_URL: 'http://127.0.0.1:1/x' });
    const ready = await run.waitFor(/^ready (.*)$/m);
    expect(JSON.parse(ready[1] ?? '')).toEqual({ token: true, caller: false, url: false });
    expect(env.stack.sandbox.workspace.listTokens()).toHaveLength(1);
    run.kill('SIGTERM');
    const stopped = env.kept(await run.finished);
    expect(stopped.code).toBe(42);
    expect(env.stack.sandbox.workspace.listTokens()).toEqual([]);
  });

  it('exits with the child\'s code; refuses without a grant or a command', async () => {
    const callerEnv = await env.callerEnv();
    const seven = env.kept(await dbxVend(['exec', '--workspace', 'analytics-sandbox', '--min-validity', '0', '--', process.execPath, '-e', 'process.exit(7)'], callerEnv));
    expect(seven.code).toBe(7);
    const missing = env.kept(await dbxVend(['exec', '--workspace', 'analytics-sandbox', '--min-validity', '0', '--', 'no-such-command-dbx-vend'], callerEnv));
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('could not start no-such-command-dbx-vend (ENOENT)');
    const noGrant = env.kept(await dbxVend(['exec', '--workspace', 'ops-sandbox', '--mode', 'pat', '--', process.execPath, '-e', 'console.log("ran")'], callerEnv));
    expect({ code: noGrant.code, stdout: noGrant.stdout }).toEqual({ code: 3, stdout: '' });
    expect(noGrant.stderr).toContain('dbx-vend: not_granted');
    for (const args of [['--workspace', 'analytics-sandbox'], ['--workspace', 'analytics-sandbox', '--'], ['--workspace', 'analytics-sandbox', '--port', '1', '--', 'true'], ['--workspace', 'analytics-sandbox', '--mode', 'pat', '--min-validity', '60', '--', 'true'], ['--', 'true']]) {
      const bad = env.kept(await dbxVend(['exec', ...args], callerEnv));
      expect({ args, code: bad.code, stdout: bad.stdout }).toEqual({ args, code: 2, stdout: '' });
    }
  });
});

