import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SANDBOX_AUDITOR_ROLE } from './sandbox';
import type { Sandbox } from './sandbox';
import type { SpawnedHost } from './spawn-host';

const run = promisify(execFile);

/**
 * The last `npm start` step: an operator holding the sandbox's auditor role reads what the demo
 * just did with `dbx-vend audit`, as they would in Azure. The read itself is recorded.
 */
export async function auditDemo(sandbox: Sandbox, host: SpawnedHost, step: number): Promise<void> {
  console.log(`${step}. An operator with app role ${SANDBOX_AUDITOR_ROLE} reads the audit trail (the read is recorded too):`);
  console.log('   dbx-vend audit --since 1h --workspace analytics-sandbox');
  const auditor = await sandbox.issueCallerToken({ clientId: randomUUID(), roles: [SANDBOX_AUDITOR_ROLE] });
  const { stdout, stderr } = await run(process.execPath, [join(__dirname, '..', 'client', 'cli.js'), 'audit', '--since', '1h', '--workspace', 'analytics-sandbox'], {
    env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: sandbox.caFile, DBX_VEND_ENDPOINT: host.url, DBX_VEND_CALLER_TOKEN: auditor },
    timeout: 30_000,
  });
  for (const line of `${stdout}${stderr}`.trimEnd().split('\n')) console.log(`   ${line}`);
}
