import { defineConfig } from 'vitest/config';
import CheapFirstSequencer from './test/support/cheap-first-sequencer';
import { reusedThreadPool } from './test/support/reused-thread-pool';

// The fast in-process test set that `npm run mutate` runs against each mutant: unit tests and
// integration tests that call handlers and adapters directly against the real local components,
// started once for the run by the global setup. Suites that spawn function hosts run the compiled
// build, which a source mutant never reaches, so they are left out here.
//
// Speed: Stryker runs this set once per mutant (only the tests that cover it). Re-importing every
// test file's module graph per run (vitest's default isolation) was most of a run's cost, so the
// test files share one module graph (`isolate: false`), and the shared project's worker thread
// keeps it from one mutant's run to the next (reused-thread-pool.ts): a new thread and a fresh
// import per run cost ~1 s of a run's ~1.25 s. That is sound because `ignoreStatic` is on in
// stryker.config.mjs: every mutant that is run is switched on at run time, never at import; a value
// built at import is tested by loading its module anew inside the test (test/support/load-anew.ts).
// MSAL keeps the managed identity source and its tokens process-wide, so the files that sign in
// as a managed identity need a fresh module graph: the production credential test and the
// telemetry export test run isolated, in their own project; the refused one (a wrong identity
// header) is left out here, as a fresh worker for it in every mutant run it covers cost more than
// the rest of the run. It stays in `npm test`. The entry tests load src/index.ts, which starts the
// app's clients and background work (a kept thread would carry them into later runs): isolated too.
// The sequencer runs the isolated project last, so a mutant an earlier test kills never pays for it.
// testTimeout: a mutant that makes a test hang (a promise that never settles) fails that test here
// at 4 s and the run goes on in the same runner. Stryker's own timeout is longer (2 s + the dry
// run's overhead + 1.5 × the covering tests' time) and ends in a restart of the runner, which
// starts the sandbox again. The slowest test of the set takes 1.9 s alone (it waits out a 1.5 s
// deadline), most well under a second; the one that reads a range of days from the emulator sets
// its own, longer timeout. 55 mutants were killed by a hang; each waited 6 s before this was 4 s.
const ISOLATED = ['test/inproc/managed-identity.test.ts', 'test/telemetry-ingestion.test.ts', 'test/unit/functions-entry.test.ts', 'test/unit/entry-invalid-config.test.ts'];
// Also left out: the telemetry switch test, which runs the compiled build in a child process (a
// source mutant never reaches it, and a fresh clone has no build).
const LEFT_OUT = ['test/inproc/managed-identity-refused.test.ts', 'test/unit/telemetry-switch.test.ts'];
const PROJECT = { testTimeout: 4_000, hookTimeout: 60_000 };
const POOL = reusedThreadPool();

export default defineConfig({
  test: {
    // Cheapest first: a killed mutant stops at its first failing test (see the sequencer).
    sequence: { sequencer: CheapFirstSequencer },
    // One sandbox for the run, started by the root and injected into both projects.
    // The second ends the threads the shared project kept between runs (reused-thread-pool.ts).
    globalSetup: ['test/support/sandbox-global-setup.ts', 'test/support/reused-thread-pool.ts'],
    reporters: ['default'],
    projects: [
      {
        test: {
          ...PROJECT, name: 'shared', isolate: false, exclude: [...ISOLATED, ...LEFT_OUT],
          setupFiles: ['test/support/mutation-run-setup.ts'],
          include: ['test/unit/**/*.test.ts', 'test/inproc/**/*.test.ts', 'test/client.test.ts'],
        },
        // The worker thread is kept between runs (test/support/reused-thread-pool.ts); set once
        // the configuration is resolved, as Stryker starts vitest with `pool: 'threads'`, which
        // would override a pool named in the project's own options. mutation-run-setup.ts makes a
        // new run start as a new worker does: no mutant on, and no module left that a test loaded
        // anew while its mutant was on. MUTATION_FRESH_WORKERS=1 goes back to a new worker per run
        // (to rule out state carried from one mutant's run to the next).
        plugins: process.env.MUTATION_FRESH_WORKERS ? [] : [{ name: 'reused-thread-pool', configureVitest: ({ project }) => Object.assign(project.config, { pool: POOL.name, poolRunner: POOL }) }],
      },
      { test: { ...PROJECT, name: 'isolated', isolate: true, include: ISOLATED } },
    ],
  },
});
