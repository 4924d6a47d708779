import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Signals passed on to the child; the child decides how to stop, and we stop with it. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface ChildOutcome {
  /** The child's exit code; 128 + signal number when a signal ended it (as shells report it); 127 when it could not start. */
  readonly exitCode: number;
  /** Set when the command could not be started (e.g. ENOENT): a message without the environment. */
  readonly startError?: string;
}

/**
 * Runs `command` with stdio inherited and exactly `env`, forwarding SIGINT/SIGTERM/SIGHUP while
 * it runs. Resolves when it has exited; never rejects.
 */
export function runChild(command: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildOutcome> {
  const [file, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(file ?? '', args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    for (const signal of FORWARDED) process.on(signal, forward);
    const done = (outcome: ChildOutcome): void => {
      for (const signal of FORWARDED) process.off(signal, forward);
      resolve(outcome);
    };
    child.once('error', (err: NodeJS.ErrnoException) => done({ exitCode: 127, startError: `could not start ${file ?? ''} (${err.code ?? err.name})` }));
    child.once('exit', (code, signal) => done({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0) }));
  });
}
