import { defineConfig } from 'vitest/config';

// The fast in-process test set that `npm run mutate` runs against each mutant: unit tests and
// integration tests that call handlers and adapters directly against the real local components,
// started once for the run by the global setup. Suites that spawn function hosts run the compiled
// build, which a source mutant never reaches, so they are left out here.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/inproc/**/*.test.ts', 'test/client.test.ts'],
    globalSetup: ['test/support/sandbox-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
