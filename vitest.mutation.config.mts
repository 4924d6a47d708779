import { defineConfig } from 'vitest/config';

// The fast in-process test set that `npm run mutate` runs against each mutant: unit tests and
// integration tests that call handlers and adapters directly against the real local components,
// started once for the run by the global setup. Suites that spawn function hosts run the compiled
// build, which a source mutant never reaches, so they are left out here.
//
// Speed: Stryker runs this set once per mutant (only the tests that cover it). Re-importing every
// test file's module graph per run (vitest's default isolation) was most of a run's cost, so the
// test files share one module graph (`isolate: false`). That is sound because `ignoreStatic` is on
// in stryker.config.mjs: every mutant that is run is switched on at run time, never at import.
// Left out: the refused managed identity test. MSAL keeps the managed identity source and its
// tokens process-wide, so that file needs a fresh process; a fresh worker for it in every mutant
// run it covers cost more than the rest of the run. What it guards in the core (a Key Vault read
// that fails means 503 and no token) is covered by the unit tests of the Key Vault source.

// testTimeout: a mutant that makes a test hang fails that test here, before Stryker's own timeout
// (which restarts the runner and with it the sandbox). Every test of the set takes well under a
// second alone.
export default defineConfig({
  test: {
    globalSetup: ['test/support/sandbox-global-setup.ts'],
    reporters: ['default'],
    include: ['test/unit/**/*.test.ts', 'test/inproc/**/*.test.ts', 'test/client.test.ts'],
    exclude: ['test/inproc/managed-identity-refused.test.ts'],
    isolate: false,
    testTimeout: 8_000,
    hookTimeout: 60_000,
  },
});
