import { inject } from 'vitest';

/**
 * Setup file of the mutation test set's shared project (vitest.mutation.config.mts), run before
 * each test file is loaded. Its worker thread is kept from one mutant's run to the next
 * (reused-thread-pool.ts), so Stryker's switch still names the previous run's mutant while the
 * first file of a new run loads: a module loaded for the first time then would be built with that
 * mutant on. A new worker starts with no mutant on; so does a new run here. Stryker switches this
 * run's mutant on before the first test (its own setup file's beforeAll).
 */
const namespace = inject('globalNamespace' as never) as string | undefined;
const thisRun = inject('activeMutant' as never) as string | undefined;
const stryker = namespace ? (globalThis as Record<string, { activeMutant?: string } | undefined>)[namespace] : undefined;
if (stryker && stryker.activeMutant !== thisRun) stryker.activeMutant = undefined;
