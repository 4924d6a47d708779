import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { TableClient, odata } from '@azure/data-tables';
import { auditDemo } from './audit-demo';
import { startSandbox } from './sandbox';
import { demoScopedToken } from './scoped-demo';
import type { Sandbox } from './sandbox';
import { crossTeamDemo } from './cross-team-demo';
import { metadataDemo } from './metadata-demo';
import { stopOnSignals } from './exit-with-parent';
import { spawnHost } from './spawn-host';
import type { SpawnedHost } from './spawn-host';

/**
 * `npm start`: the whole product on this machine, no Azure. Starts the sandbox (azurite, a local
 * Entra ID authority, Key Vault and Databricks workspace over HTTPS with a private CA), serves the
 * function app on 127.0.0.1:7071, vends a token as a sandbox caller and uses it against the local
 * workspace, then keeps serving until Ctrl-C and stops everything it started.
 */
async function main(): Promise<void> {
  const sandbox = await startSandbox({ quiet: true });
  const stopAll: (() => Promise<void>)[] = [() => sandbox.stop()];
  const stopEverything = async (): Promise<void> => void (await Promise.allSettled(stopAll.reverse().map((stop) => stop())));
  const shutdown = (code: number): void => void stopEverything().then(() => process.exit(code));
  // Children (azurite, the host) also watch their stdin pipe, so they go even if this process is killed -9.
  stopOnSignals(stopEverything, 5_000);
  try {
    const host = await spawnHost(sandbox.hostEnv(), { port: Number(process.env.PORT ?? '7071'), echo: (line) => console.log(`  [host] ${line}`) });
    stopAll.push(() => host.stop());
    setDefaultCACertificates([...getCACertificates('default'), sandbox.caPem]);
    await demo(sandbox, host);
    await demoScopedToken(sandbox, host);
    await metadataDemo(sandbox, host, 5);
    await auditDemo(sandbox, host, 6);
    await crossTeamDemo(sandbox, host, 7);
    const tokenFile = await writeCallerToken(sandbox, stopAll);
    printHowTo(host, tokenFile);
  } catch (err) {
    console.error('npm start failed:', err instanceof Error ? err.message : err);
    shutdown(1);
  }
}

async function demo(sandbox: Sandbox, host: SpawnedHost): Promise<void> {
  const callerToken = await sandbox.issueCallerToken();
  console.log(`\n1. A sandbox caller (app ${sandbox.apps.callerApp.clientId}, role Vend.AnalyticsSandbox) asks for a token:`);
  const res = await fetch(`${host.url}/token`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${callerToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ workspace: 'analytics-sandbox', purpose: 'npm start demo' }),
  });
  const body = (await res.json()) as { access_token?: string; expires_in?: number; headers?: Record<string, string>; workspace?: { host: string }; code?: string; detail?: string };
  if (res.status !== 200 || !body.access_token || !body.headers || !body.workspace) throw new Error(`vend failed: HTTP ${res.status} ${body.code ?? ''} ${body.detail ?? ''}`);
  console.log(`   POST /api/token → 200, a Databricks token for SP etl-sp, valid ${body.expires_in} s (token not shown)`);
  const me = await fetch(`${body.workspace.host}/api/2.0/preview/scim/v2/Me`, { headers: body.headers });
  const who = (await me.json()) as { userName?: string };
  console.log(`2. The local workspace accepts it with the returned headers:`);
  console.log(`   GET /api/2.0/preview/scim/v2/Me → ${me.status}, userName ${who.userName ?? '?'}`);
  if (me.status !== 200) throw new Error('the local workspace refused the vended token');
  const table = TableClient.fromConnectionString(sandbox.audit.connectionString, sandbox.audit.tableName, { allowInsecureConnection: true });
  const requestId = res.headers.get('x-request-id') ?? '';
  for await (const row of table.listEntities<{ outcome?: string; token_id?: string; token_fingerprint?: string }>({ queryOptions: { filter: odata`request_id eq ${requestId}` } })) {
    console.log(`3. The audit table (azurite) holds the issuance: outcome ${row.outcome}, token_id ${row.token_id}, fingerprint ${row.token_fingerprint}.`);
  }
}

async function writeCallerToken(sandbox: Sandbox, stopAll: (() => Promise<void>)[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'dbx-vend-start-'));
  stopAll.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const file = join(dir, 'caller-token');
  writeFileSync(file, await sandbox.issueCallerToken({ expiresInSeconds: 3600 }), { mode: 0o600 });
  // For the cross-team walkthrough in the README: team A's owner (a user in the owning group) and team B's app.
  writeFileSync(join(dir, 'team-a-owner-token'), await sandbox.issueCallerToken({ kind: 'user', claims: { groups: [sandbox.apps.teamAGroupId] }, expiresInSeconds: 3600 }), { mode: 0o600 });
  writeFileSync(join(dir, 'team-b-app-token'), await sandbox.issueCallerToken({ clientId: sandbox.apps.otherCallerApp.clientId, roles: [], expiresInSeconds: 3600 }), { mode: 0o600 });
  return file;
}

function printHowTo(host: SpawnedHost, tokenFile: string): void {
  console.log(`
The function app is serving on ${host.url} (sandbox: nothing here touches Azure).
A caller token for the sandbox (valid 1 h) is in ${tokenFile}. Try:

  TOKEN=$(cat ${tokenFile})
  curl -s ${host.url}/health
  curl -s ${host.url}/workspaces -H "Authorization: Bearer $TOKEN"
  curl -s -X POST ${host.url}/token -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{"workspace":"analytics-sandbox","purpose":"trying it"}'

Cross-team access (README, "Cross-team access"): team B's app and a team A owner, tokens beside it:

  DIR=${dirname(tokenFile)}
  export DBX_VEND_ENDPOINT=${host.url}
  DBX_VEND_CALLER_TOKEN=$(cat $DIR/team-b-app-token) node dist/src/client/cli.js grants requests
  DBX_VEND_CALLER_TOKEN=$(cat $DIR/team-a-owner-token) node dist/src/client/cli.js grants list --workspace analytics-sandbox

Press Ctrl-C to stop everything.`);
}

void main();
