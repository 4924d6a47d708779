// @ts-check
// `npm run mutate`: mutation testing of the whole core against the in-process test set.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.mts' },
  // No type checker by default: every mutant is run against the tests, including those that
  // would not compile. Measured on this 2-core machine, checking took two thirds of a run's CPU
  // (0.4 s per mutant, a fresh type check of the mutated file), while a test run against a mutant
  // costs about 0.25 s once the test worker is reused (vitest.mutation.config.mts), and the mutants
  // the checker rules out are killed by the tests like any other (a type error is a wrong value at
  // run time). They now count in the score, so it is, if anything, stricter. To have compile
  // errors reported as such: `npm run mutate -- --checkers typescript` (slower).
  checkers: [],
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
  // Four test runners on two cores: a runner waits on the local components (HTTPS, azurite) for
  // part of each run, and a timed-out mutant holds its runner for the timeout and a restart
  // (a new sandbox). Pass --concurrency to change it.
  concurrency: 4,
  // Added to 1.5 × the covering tests' time and to the dry run's overhead (~12 s here: the
  // sandbox's start and the first imports, which a reused worker does not pay again); a hung test
  // fails first, at the test set's own testTimeout (see vitest.mutation.config.mts).
  timeoutMS: 2_000,
  // Re-runs only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 90, low: 80, break: null },
};
