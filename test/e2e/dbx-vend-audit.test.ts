// `dbx-vend audit` and `dbx-vend audit lookup` as child processes against the real stack.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_AUDITOR_ROLE } from '../../src/dev/sandbox';
import { CLI, dbxVend } from '../support/dbx-vend-process';
import type { Finished } from '../support/dbx-vend-process';
import { cliStack } from './cli-stack';

const env = cliStack();
const auditorApp = randomUUID();
const vends: { requestId: string; tokenId: string; token: string }[] = [];

async function auditorEnv(): Promise<Record<string, string>> {
  return { ...(await env.callerEnv()), DBX_VEND_CALLER_TOKEN: await env.stack.callerToken({ clientId: auditorApp, roles: [SANDBOX_AUDITOR_ROLE], expiresInSeconds: 600 }) };
}

/** `dbx-vend` with `input` on its stdin (DbxVend gives its children none). */
function withStdin(args: readonly string[], vars: Record<string, string>, input: string): Promise<Finished> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...vars }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stdin.end(input);
  return new Promise((resolve) => child.once('close', (code, signal) => (clearTimeout(timer), resolve(env.kept({ code, signal, stdout, stderr })))));
}

async function run(args: readonly string[], vars?: Record<string, string>): Promise<Finished> {
  return env.kept(await dbxVend(args, vars ?? (await auditorEnv())));
}

beforeAll(async () => {
  for (const mode of ['aad', 'pat', 'aad', 'pat', 'aad']) {
    const res = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode, purpose: 'dbx-vend audit test' });
    expect(res.status).toBe(200);
    vends.push({ requestId: String(res.json.request_id), tokenId: String(res.json.token_id), token: String(res.json.access_token) });
  }
});

const lines = (text: string): Record<string, unknown>[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('dbx-vend audit', () => {
  it('prints JSON lines newest first, following the continuation over several pages', async () => {
    const out = await run(['audit', '--since', '1h', '--outcome', 'issued', '--limit', '2', '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const rows = lines(out.stdout);
    expect(rows.map((r) => r.request_id)).toEqual(vends.map((v) => v.requestId).reverse());
    // Five rows at two per request: three reads, each on record.
    const reads = (await env.stack.auditRows()).filter((r) => r.outcome === 'audit_read' && r.caller_appid === auditorApp);
    expect(reads.filter((r) => String(r.audit_query).includes('"limit":2')).length).toBe(3);
  });

  it('prints a readable table by default, with the filters applied', async () => {
    const out = await run(['audit', '--since', '1h', '--workspace', 'analytics-sandbox', '--outcome', 'issued', '--caller', env.stack.sandbox.apps.callerApp.clientId]);
    expect(out.code).toBe(0);
    const [header, ...rows] = out.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^TIME\s+OUTCOME\s+STATUS\s+CODE\s+WORKSPACE\s+MODE\s+CALLER\s+TOKEN_ID\s+REQUEST_ID$/);
    expect(rows).toHaveLength(5);
    for (const [i, v] of [...vends].reverse().entries()) expect(rows[i]).toContain(v.requestId);
    expect(rows.every((r) => /\sissued\s+200\s+issued\s+analytics-sandbox\s+(aad|pat)\s/.test(r))).toBe(true);
    expect(out.stderr).toBe('dbx-vend: 5 rows.\n');
    const pat = vends[1];
    const byId = await run(['audit', '--since', '1h', '--token-id', pat?.tokenId ?? '', '--json']);
    expect(lines(byId.stdout).map((r) => r.request_id)).toEqual([pat?.requestId]);
  });

  it('refuses a caller who is no auditor (exit 3) and bad filters (the service says which)', async () => {
    const refused = await run(['audit'], await env.callerEnv());
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('not_granted');
    expect(refused.stdout).toBe('');
    const bad = await run(['audit', '--since', 'yesterday']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('since must be an ISO 8601');
    for (const args of [['audit', '--limit', 'many'], ['audit', 'everything'], ['audit', 'lookup', '--workspace', 'x'], ['audit', '--mode', 'pat']]) {
      const usage = await run(args);
      expect(usage.code, args.join(' ')).toBe(2);
    }
  });
});

describe('dbx-vend audit lookup', () => {
  it('reads the token from stdin and prints its issuance', async () => {
    const pat = vends[3];
    const table = await withStdin(['audit', 'lookup', '--since', '1h'], await auditorEnv(), `${pat?.token}\n`);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TIME\s+OUTCOME/);
    expect(table.stdout).toContain(pat?.requestId);
    expect(table.stderr).toMatch(/^dbx-vend: fingerprint [0-9a-f]{16}: 1 issuance recorded\.\n$/);
    const json = await withStdin(['audit', 'lookup', '--json'], await auditorEnv(), pat?.token ?? '');
    expect(lines(json.stdout)).toEqual([expect.objectContaining({ request_id: pat?.requestId, token_id: pat?.tokenId, outcome: 'issued' })]);
    const none = await withStdin(['audit', 'lookup', '--since', '1h'], await auditorEnv(), '');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('reads the token from stdin');
  });
});
