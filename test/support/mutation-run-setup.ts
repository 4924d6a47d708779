import { inject, vi } from 'vitest';
import { takeLoadedAnew } from './load-anew';

/**
 * Setup file of the mutation test set's shared project (vitest.mutation.config.mts), run before
 * each test file is loaded. Its worker thread is kept from one mutant's run to the next
 * (reused-thread-pool.ts); at the first file of a new run it is brought to where a new worker
 * would start:
 * - No mutant on. Stryker's switch still names the previous run's mutant while the first file of
 *   a new run loads: a module loaded for the first time then would be built with that mutant on.
 *   Stryker switches this run's mutant on before the first test (its own setup file's beforeAll).
 * - No module loaded with an earlier mutant on. A test that loads modules anew (load-anew.ts)
 *   leaves copies built while its run's mutant was on; the module registry is then reset, so the
 *   new run's files load our modules afresh. Packages loaded natively (the Azure SDKs, zod, jose)
 *   stay loaded, as they do between any two runs of the kept thread; that is what makes a reset
 *   cheaper than a new thread (a second of CPU per run, measured).
 */
const namespace = inject('globalNamespace' as never) as string | undefined;
const thisRun = inject('activeMutant' as never) as string | undefined;
const stryker = namespace ? (globalThis as Record<string, { activeMutant?: string } | undefined>)[namespace] : undefined;
if (stryker && stryker.activeMutant !== thisRun) {
  stryker.activeMutant = undefined;
  if (takeLoadedAnew()) vi.resetModules();
}
