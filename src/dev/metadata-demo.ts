import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Sandbox } from './sandbox';
import type { SpawnedHost } from './spawn-host';

const run = promisify(execFile);

/**
 * The `npm start` step for `dbx-vend metadata-server`: starts it as a caller would, reads the
 * variables it prints, and runs the Databricks JS SDK with exactly those (plus the sandbox CA)
 * to list the workspace's current user. Stops the server afterwards; prints no token.
 */
export async function metadataDemo(sandbox: Sandbox, host: SpawnedHost, step: number): Promise<void> {
  console.log(`${step}. dbx-vend metadata-server serves any Databricks tool; the Databricks JS SDK, configured only by what it prints:`);
  const env = { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: sandbox.caFile };
  const server = spawn(process.execPath, [join(__dirname, '..', 'client', 'cli.js'), 'metadata-server', '--workspace', 'analytics-sandbox'], {
    env: { ...env, DBX_VEND_ENDPOINT: host.url, DBX_VEND_CALLER_TOKEN: await sandbox.issueCallerToken() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const printed = await printedVariables(server);
    for (const [name, value] of Object.entries(printed)) console.log(`   export ${name}='${value}'`);
    const { stdout } = await run(process.execPath, [join(__dirname, 'databricks-me.js')], { env: { ...env, ...printed }, timeout: 30_000 });
    const me = JSON.parse(stdout) as { userName?: string; authType?: string };
    console.log(`   new WorkspaceClient().currentUser.me() → userName ${me.userName ?? '?'} (auth type ${me.authType ?? '?'})`);
  } finally {
    server.kill('SIGTERM');
  }
}

/** The `export NAME='value'` lines of dbx-vend's stdout, once all three are there. */
function printedVariables(server: ReturnType<typeof spawn>): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`dbx-vend metadata-server printed nothing within 30 s: ${err.trim()}`)), 30_000);
    server.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    server.once('exit', () => reject(new Error(`dbx-vend metadata-server stopped: ${err.trim()}`)));
    server.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const vars = Object.fromEntries([...out.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
      if (vars.DATABRICKS_AUTH_TYPE) {
        clearTimeout(timer);
        resolve(vars);
      }
    });
  });
}
