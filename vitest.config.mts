import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start their own emulators; they share loopback ports and CPU,
    // so files run one at a time on this 2-core target.
    fileParallelism: false,
    // The in-process integration tests (test/inproc) share one sandbox for the run.
    globalSetup: ['test/support/sandbox-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
