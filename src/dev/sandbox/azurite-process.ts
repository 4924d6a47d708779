import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

const START_TIMEOUT_MS = 20_000;
/**
 * Preloaded into azurite: exit when our end of its stdin pipe closes. The pipe closes however this
 * process ends (even SIGKILL), so azurite never outlives the sandbox that started it.
 */
const EXIT_WITH_PARENT = 'data:text/javascript,process.stdin.on("end",()=>process.exit(0)).resume()';
const KILL_GRACE_MS = 2_000;

/** A running azurite Table service on 127.0.0.1, in memory. */
export interface AzuriteTable {
  readonly port: number;
  /** The azurite process (the bench samples its CPU time). */
  readonly pid: number;
  stop(): Promise<void>;
}

function azuriteTableBin(): string {
  const manifestPath = createRequire(__filename).resolve('azurite/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifestPath), manifest.bin['azurite-table']);
}

/** A port free right now; azurite cannot be given port 0 and report back what it got. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function waitUntilStarted(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error('azurite-table did not start in time')), START_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (/successfully (started|listening)/i.test(output)) {
        clearTimeout(timer);
        // Started: nothing more is looked for in what it prints.
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`azurite-table exited during start (code ${code}): ${output.slice(-500)}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** HTTPS with OAuth: azurite presents this certificate and also accepts Entra ID bearer tokens (`--oauth basic`). */
export interface AzuriteTls {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Spawns azurite's Table service with this Node (`process.execPath`), in memory, loopback only, with
 * telemetry off (the sandbox never reaches the internet). It dies with the parent process. Over
 * HTTP it takes path-style URLs only; over HTTPS (`tls`) also production-style host names
 * (`<account>.table.<anything>`), which identity-based clients need, and bearer tokens.
 */
export async function startAzuriteTable(workDir: string, quiet: boolean, tls?: AzuriteTls): Promise<AzuriteTable> {
  const port = await freePort();
  const args = [
    '--import', EXIT_WITH_PARENT, azuriteTableBin(), '--inMemoryPersistence', '--tableHost', '127.0.0.1', '--tablePort', String(port),
    '--skipApiVersionCheck', '--loose', '--disableTelemetry', ...(quiet ? ['--silent'] : []),
    ...(tls ? ['--cert', tls.certFile, '--key', tls.keyFile, '--oauth', 'basic'] : ['--disableProductStyleUrl']),
  ];
  // cwd is the sandbox temp dir: with in-memory persistence azurite refuses --location.
  const child = spawn(process.execPath, args, { cwd: workDir, stdio: ['pipe', 'pipe', quiet ? 'ignore' : 'inherit'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await waitUntilStarted(child);
  } catch (err) {
    await stopChild(child);
    process.off('exit', killOnExit);
    throw err;
  }
  if (!quiet) child.stdout?.pipe(process.stdout);
  else child.stdout?.resume();
  return {
    port,
    pid: child.pid ?? 0,
    async stop() {
      await stopChild(child);
      process.off('exit', killOnExit);
    },
  };
}
