import { spawn } from 'node:child_process';
import { join, sep } from 'node:path';

export interface SpawnedHost {
  /** `http://127.0.0.1:<port>/api` */
  readonly url: string;
  /** The host's process id (for memory and CPU figures). */
  readonly pid: number;
  /** Everything the host printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs `dist/src/dev/host.js` (the same thing `npm run host` runs) in a child process with
 * exactly the given app settings plus PATH: nothing else of the parent's environment leaks in.
 */
export interface SpawnHostOptions {
  readonly port?: number;
  readonly echo?: (line: string) => void;
  /** Node options before the script (e.g. `--require` a preload), kept out of the app settings. */
  readonly nodeArgs?: readonly string[];
}

export function spawnHost(settings: Record<string, string>, options: SpawnHostOptions = {}): Promise<SpawnedHost> {
  // From the build output this file sits beside host.js; from the sources (tests), the build is two levels up.
  const script = __dirname.split(sep).includes('dist') ? join(__dirname, 'host.js') : join(__dirname, '..', '..', 'dist', 'src', 'dev', 'host.js');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script], {
    // The host exits when this pipe closes: it never outlives this process, even after kill -9.
    env: { PATH: process.env.PATH ?? '', ...settings, PORT: String(options.port ?? 0), VENDING_EXIT_WITH_STDIN: 'on' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('the function host did not start within 20 s')), 20_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(Object.assign(err, { output }));
    };
    let listening = false;
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      // Until the host listens, only the text since the last line break can hold the start of the
      // line looked for; after, nothing is looked for. (Scanning all output so far on every chunk
      // cost this process O(n²) over a long load run, taken from the host on a small machine.)
      const unfinished = listening ? '' : output.slice(output.lastIndexOf('\n') + 1);
      output += text;
      if (options.echo) for (const line of text.split('\n').filter(Boolean)) options.echo(line);
      if (listening) return;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/api)/.exec(unfinished + text)?.[1];
      if (url) {
        listening = true;
        clearTimeout(timer);
        resolve({ url, pid: child.pid ?? -1, output: () => output, stop: () => stop(child, exited) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`the function host exited with code ${code} before listening:\n${output}`)));
  });
}

async function stop(child: ReturnType<typeof spawn>, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
