import { vi } from 'vitest';
import { markModulesLoaded } from './reused-thread-pool';

/**
 * Loads a module anew, so its module-level code (a zod schema, a constant table) runs again inside
 * the calling test. Call it from the test or a `beforeEach`, not at the top of the file.
 *
 * Why: the mutation test set's files share one module graph (vitest.mutation.config.mts), and a
 * mutant is switched on when its tests start, after the files were imported. A value built at
 * import is therefore built before any mutant is on, and a changed schema bound would pass every
 * test that reads the value imported at the top. Loaded here, the mutant is on while it is built,
 * and the test that checks the bound fails as it should. Modules loaded this way are new copies:
 * compare classes from the same load (`instanceof` against a top-level import would not match).
 * What it loads stays in the module graph with this run's mutant in it: a mutation run's worker
 * is then not reused for the next mutant (reused-thread-pool.ts).
 */
export async function loadAnew<T>(load: () => Promise<T>): Promise<T> {
  markModulesLoaded();
  vi.resetModules();
  return load();
}
