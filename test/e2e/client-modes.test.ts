// The client's modes against the real stack over HTTP: `dbx-vend exec --mode oauth` hands the
// child a workspace OAuth token limited to its scopes; `--mode user` the caller's own token; the
// VendingClient's cache never crosses scope sets or callers.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VendingClient } from '../../src/client';
import { dbxVend } from '../support/dbx-vend-process';
import { cliStack } from './cli-stack';
import { claimsOf } from './harness';

const env = cliStack();

/** Run by `exec`: lists clusters and tries to create one with DATABRICKS_HOST/DATABRICKS_TOKEN; prints statuses and the token's scope claim only. */
const CLUSTERS_PROBE = `
const { DATABRICKS_HOST: host, DATABRICKS_TOKEN: token } = process.env;
const headers = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' };
(async () => {
  const list = await fetch(host + '/api/2.0/clusters/list', { headers });
  const create = await fetch(host + '/api/2.0/clusters/create', { method: 'POST', headers, body: '{}' });
  const scope = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).scope;
  console.log(JSON.stringify({ list: list.status, create: create.status, createError: (await create.json()).error_code, scope }));
})().catch(() => process.exit(9));
`;

describe('dbx-vend --mode oauth', () => {
  it('exec: an oauth token with clusters:read lists clusters and is refused creating one', async () => {
    const callerEnv = await env.callerEnv();
    const end = env.kept(await dbxVend(['exec', '--workspace', 'analytics-scoped', '--mode', 'oauth', '--scopes', 'clusters:read', '--', process.execPath, '-e', CLUSTERS_PROBE], callerEnv));
    expect({ code: end.code, stderr: end.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(end.stdout)).toEqual({ list: 200, create: 403, createError: 'PERMISSION_DENIED', scope: 'clusters:read' });
    const row = (await env.stack.auditRows()).find((r) => r.outcome === 'issued' && r.mode === 'oauth' && r.workspace === 'analytics-scoped');
    expect(row).toMatchObject({ scopes: 'clusters:read' });
  });

  it('token: repeated and comma-separated --scopes make one sorted set; beyond the grant exits 3; bad syntax exits 2', async () => {
    const callerEnv = await env.callerEnv();
    // stdout holds the token by design: only stderr joins the leak scan.
    const ok = await dbxVend(['token', '--workspace', 'analytics-scoped', '--mode', 'oauth', '--scopes', 'sql,clusters:read', '--scopes', 'sql'], callerEnv);
    env.kept({ stdout: '', stderr: ok.stderr });
    expect(ok.code, ok.stderr).toBe(0);
    const body = JSON.parse(ok.stdout) as { mode: string; scopes: string[]; access_token: string };
    env.stack.vendedTokens.push(body.access_token);
    expect({ mode: body.mode, scopes: body.scopes, claim: claimsOf(body.access_token).scope }).toEqual({ mode: 'oauth', scopes: ['clusters:read', 'sql'], claim: 'clusters:read sql' });

    const beyond = env.kept(await dbxVend(['token', '--workspace', 'analytics-scoped', '--mode', 'oauth', '--scopes', 'clusters'], callerEnv));
    expect({ code: beyond.code, stdout: beyond.stdout }).toEqual({ code: 3, stdout: '' });
    expect(beyond.stderr).toContain('dbx-vend: not_granted');
    expect(beyond.stderr).toContain('allowed scopes: clusters:read, sql');

    for (const args of [['--mode', 'oauth', '--scopes', 'clusters:write'], ['--mode', 'oauth', '--scopes', ','], ['--mode', 'aad', '--scopes', 'sql'], ['--mode', 'oauth', '--lifetime', '600']]) {
      const bad = env.kept(await dbxVend(['token', '--workspace', 'analytics-scoped', ...args], callerEnv));
      expect({ args, code: bad.code, stdout: bad.stdout }).toEqual({ args, code: 2, stdout: '' });
    }
  });
});

/** Run by `metadata-server --exec`: asks the metadata service for a token as the Databricks SDKs do, then probes. */
const METADATA_PROBE = `
(async () => {
  const served = await (await fetch(process.env.DATABRICKS_METADATA_SERVICE_URL, { headers: { 'X-Databricks-Metadata-Version': '1', 'X-Databricks-Host': process.env.DATABRICKS_HOST } })).json();
  process.env.DATABRICKS_TOKEN = served.access_token;
  ${CLUSTERS_PROBE}
})().catch((e) => { console.error(String(e)); process.exit(9); });
`;

describe('dbx-vend metadata-server --mode oauth', () => {
  it('serves an oauth token limited to its scopes; --mode pat is a usage error', async () => {
    const callerEnv = await env.callerEnv();
    const end = env.kept(await dbxVend(['metadata-server', '--workspace', 'analytics-scoped', '--mode', 'oauth', '--scopes', 'clusters:read', '--exec', '--', process.execPath, '-e', METADATA_PROBE], callerEnv));
    expect({ code: end.code, stderr: end.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^dbx-vend: serving a new token, valid until \S+\.\n$/) as unknown });
    expect(JSON.parse(end.stdout)).toEqual({ list: 200, create: 403, createError: 'PERMISSION_DENIED', scope: 'clusters:read' });
    const pat = env.kept(await dbxVend(['metadata-server', '--workspace', 'analytics-sandbox', '--mode', 'pat'], callerEnv));
    expect({ code: pat.code, stdout: pat.stdout }).toEqual({ code: 2, stdout: '' });
    expect(pat.stderr).toContain('--mode must be one of aad, oauth, user');
  });
});

describe('dbx-vend --mode user', () => {
  it("token: a delegated caller gets their own token, which the workspace sees as that user", async () => {
    const { sandbox } = env.stack;
    const callerEnv = { ...(await env.callerEnv()), DBX_VEND_CALLER_TOKEN: await env.stack.callerToken({ kind: 'user', expiresInSeconds: 600 }) };
    const end = await dbxVend(['token', '--workspace', 'analytics-sandbox', '--mode', 'user'], callerEnv);
    env.kept({ stdout: '', stderr: end.stderr });
    expect(end.code, end.stderr).toBe(0);
    const body = JSON.parse(end.stdout) as { mode: string; access_token: string; headers: Record<string, string> };
    env.stack.vendedTokens.push(body.access_token);
    expect(body.mode).toBe('user');
    const me = await fetch(`${sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: body.headers });
    expect(((await me.json()) as { userName: string }).userName).toBe(sandbox.authority.userPrincipalName);
  });
});

describe('VendingClient cache over real HTTP', () => {
  it('one token per scope set, shared by requests for the same set; a user token per caller only', async () => {
    const { stack } = env;
    let caller = await stack.callerToken({ kind: 'user' });
    let posts = 0;
    const client = new VendingClient({
      endpoint: env.host.url,
      getCallerToken: () => Promise.resolve(caller),
      fetch: (input, init) => {
        if (init?.method === 'POST') posts += 1;
        return fetch(input, init);
      },
    });
    const read = await client.getToken({ workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters:read'] });
    const both = await client.getToken({ workspace: 'analytics-scoped', mode: 'oauth', scopes: ['sql', 'clusters:read'] });
    const bothAgain = await client.getToken({ workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters:read', 'sql', 'sql'] });
    stack.vendedTokens.push(read.access_token, both.access_token);
    expect(read.scopes).toEqual(['clusters:read']);
    expect(both.scopes).toEqual(['clusters:read', 'sql']);
    expect(bothAgain.access_token).toBe(both.access_token);
    expect(posts).toBe(2);

    const mine = await client.getToken({ workspace: 'analytics-sandbox', mode: 'user' });
    expect((await client.getToken({ workspace: 'analytics-sandbox', mode: 'user' })).access_token).toBe(mine.access_token);
    const oid = randomUUID();
    caller = await stack.callerToken({ kind: 'user', claims: { oid, upn: 'second.user@sandbox.example' } });
    const theirs = await client.getToken({ workspace: 'analytics-sandbox', mode: 'user' });
    stack.vendedTokens.push(mine.access_token, theirs.access_token);
    expect(claimsOf(theirs.access_token)).toMatchObject({ oid, upn: 'second.user@sandbox.example' });
    expect(posts).toBe(4);
  });
});
