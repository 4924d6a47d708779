import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest, WorkerResponse } from 'vitest/node';

/**
 * A vitest pool for the mutation test set whose worker thread outlives a test run.
 *
 * Stryker runs the test set once per mutant, each time as a new vitest run, and vitest's own
 * `threads` pool ends its worker when a run's queue is empty: every mutant paid a new thread and a
 * fresh import of the whole module graph (the Azure SDKs, zod, jose, our core), most of a run's
 * CPU. Here the thread is kept: a run's `stop` is answered on the thread's behalf and the thread
 * waits, idle, for the next run of the same project, whose `start` is answered the same way. The
 * module graph stays loaded, as it already does between the files of one run (`isolate: false`);
 * a mutant is switched on at run time, so a loaded module still sees it (stryker.config.mjs,
 * `ignoreStatic`). The test files themselves are loaded anew by every run (vitest invalidates them);
 * modules a test loaded anew while its mutant was on are dropped when the next run starts
 * (mutation-run-setup.ts). A thread that died (a mutant that crashed it) is not kept, nor one that
 * has served RUNS_PER_THREAD runs.
 *
 * What a new run changes reaches the thread: the configuration (Stryker sets the test name filter
 * per mutant) travels with each `run` request, which the worker merges over what `start` gave it;
 * what Stryker provides (the active mutant) already travels with every run. Only projects with
 * `isolate: false` may use this pool; an isolated project keeps vitest's own.
 */
export function reusedThreadPool(): PoolRunnerInitializer {
  return { name: 'reused-threads', createPoolWorker: (options) => new ReusedThreadWorker(options) };
}

interface Idle {
  readonly thread: Worker;
  /** The configuration the thread was started with, replaced by each later `start`. */
  config: unknown;
  /** Runs the thread has served. */
  runs: number;
}

/**
 * A thread is replaced after this many runs. What every run leaves behind (the test files' module
 * copies, objects the SDKs keep) grows a thread's heap for as long as it lives: in a full run
 * without a bound, runners reached 2 GB and their runs slowed down four-fold late in the run. A
 * new thread costs about a second, once per this many runs.
 */
const RUNS_PER_THREAD = Number(process.env.MUTATION_RUNS_PER_THREAD ?? 150);

/**
 * Threads between runs, one per project and environment (one runner at a time each). Kept on
 * globalThis: the config and the global setup load this file as two separate module instances.
 */
const REGISTRY = Symbol.for('dbx-token-vending.reused-threads');
const idle = ((globalThis as Record<symbol, Map<string, Idle> | undefined>)[REGISTRY] ??= new Map<string, Idle>());

/** Global teardown (listed in the config's globalSetup): the idle threads end with the run. */
export async function teardown(): Promise<void> {
  const threads = [...idle.values()].map((i) => i.thread);
  idle.clear();
  await Promise.all(threads.map((t) => t.terminate()));
}

const isRequest = (m: unknown): m is WorkerRequest => (m as { __vitest_worker_request__?: unknown } | null)?.__vitest_worker_request__ === true;

class ReusedThreadWorker implements PoolWorker {
  readonly name = 'reused-threads';
  readonly #options: PoolOptions;
  readonly #events = new EventEmitter();
  #held: Idle | undefined;
  #reused = false;
  readonly #forward = (message: unknown): void => void this.#events.emit('message', message);
  readonly #error = (error: unknown): void => void this.#events.emit('error', error);
  readonly #exit = (code: unknown): void => void this.#events.emit('exit', code);

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  get #key(): string {
    return `${this.#options.project.name}\u0000${this.#options.environment.name}`;
  }

  on(event: string, callback: (arg: unknown) => void): void {
    this.#events.on(event, callback);
  }

  off(event: string, callback: (arg: unknown) => void): void {
    this.#events.off(event, callback);
  }

  start(): Promise<void> {
    const kept = idle.get(this.#key);
    idle.delete(this.#key);
    this.#reused = kept !== undefined;
    this.#held = kept ?? { thread: this.#newThread(), config: undefined, runs: 0 };
    this.#held.thread.on('message', this.#forward);
    this.#held.thread.on('error', this.#error);
    this.#held.thread.on('exit', this.#exit);
    return Promise.resolve();
  }

  send(message: WorkerRequest): void {
    const held = this.#held;
    if (!held) throw new Error('reused-threads: send before start');
    if (isRequest(message) && message.type === 'start') {
      held.config = message.context.config;
      if (this.#reused) return this.#answer({ type: 'started', __vitest_worker_response__: true });
    }
    if (isRequest(message) && message.type === 'stop') return this.#answer({ type: 'stopped', __vitest_worker_response__: true });
    if (isRequest(message) && message.type === 'run') {
      return held.thread.postMessage({ ...message, context: { ...message.context, config: held.config } });
    }
    held.thread.postMessage(message);
  }

  stop(): Promise<void> {
    const held = this.#held;
    this.#held = undefined;
    if (!held) return Promise.resolve();
    held.thread.off('message', this.#forward);
    held.thread.off('error', this.#error);
    held.thread.off('exit', this.#exit);
    held.runs += 1;
    // Kept unless it died (a mutant that crashed it) or has served its runs.
    if (held.thread.threadId !== -1 && held.runs < RUNS_PER_THREAD) {
      idle.set(this.#key, held);
      return Promise.resolve();
    }
    return held.thread.terminate().then(() => undefined);
  }

  deserialize(data: unknown): unknown {
    return data;
  }

  /** An answer on the thread's behalf, after the caller has attached its listeners. */
  #answer(response: WorkerResponse): void {
    setImmediate(() => this.#events.emit('message', response));
  }

  #newThread(): Worker {
    const thread = new Worker(resolve(this.#options.distPath, 'workers/threads.js'), {
      env: this.#options.env, execArgv: this.#options.execArgv, stdout: true, stderr: true,
    });
    // An idle thread must not keep the process alive once vitest is done.
    thread.unref();
    thread.stdout.pipe(process.stdout);
    thread.stderr.pipe(process.stderr);
    return thread;
  }
}
