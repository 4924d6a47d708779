// @ts-check
// `npm run mutate`: mutation testing of the whole core against the in-process test set.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.mts' },
  checkers: ['typescript'],
  // The checker only needs the mutated sources (src/core): tests are run, not type-checked, per
  // mutant, and a smaller program makes each incremental check cheaper.
  tsconfigFile: 'tsconfig.stryker.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: ['src/core/**/*.ts'],
  coverageAnalysis: 'perTest',
  // A static mutant (module-level code: constant tables, schema objects built at import) can only
  // be switched on by re-importing everything, so each one re-ran the whole test set: they were a
  // third of the mutants and most of the run time. They are reported as Ignored, and their count
  // is in the README next to the score. Every mutant that is run is switched on at run time,
  // which lets the test files share one module graph (vitest.mutation.config.mts).
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // With the checker, concurrency n runs ceil(n/2) checkers and floor(n/2) test runners until
  // checking is done. One checker was the bottleneck (the runner idled at a quarter of a core), so 3:
  // two checkers and one runner, then three runners. Pass --concurrency to change it.
  concurrency: 3,
  // Added to 1.5 × the covering tests' time and the run overhead; a hung test fails first, at the
  // test set's own testTimeout (see vitest.mutation.config.mts).
  timeoutMS: 5_000,
  // Re-runs only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
