import { spawn } from 'node:child_process';

export interface SpawnedScript {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Runs a Node script in a child process with exactly `env` (plus PATH) and waits for its "listening on <url>" line. */
export function spawnScript(script: string, env: Record<string, string>): Promise<SpawnedScript> {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${script} did not start within 20 s`)), 20_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/api)/.exec(output)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolve({
        url,
        pid: child.pid ?? -1,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(kill);
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`${script} exited with code ${code} before listening: ${output.slice(0, 500)}`)));
  });
}
