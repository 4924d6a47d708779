import { vi } from 'vitest';

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
 *
 * What it loads stays in the module graph with this run's mutant in it, so it is noted here and
 * the mutation set's next run starts from a new module graph (test/support/mutation-run-setup.ts).
 * Only for modules whose loading has no effect beyond building values: a module that starts work
 * when loaded (src/index.ts builds the app's clients and background refreshes) is tested in the
 * mutation set's isolated project, whose worker is new for every run.
 */
export async function loadAnew<T>(load: () => Promise<T>): Promise<T> {
  (globalThis as Record<symbol, boolean | undefined>)[LOADED_ANEW] = true;
  vi.resetModules();
  return load();
}

const LOADED_ANEW = Symbol.for('dbx-token-vending.loaded-anew');

/** Whether `loadAnew` ran in this thread since the last call (which clears the note). */
export function takeLoadedAnew(): boolean {
  const g = globalThis as Record<symbol, boolean | undefined>;
  const loaded = g[LOADED_ANEW] === true;
  g[LOADED_ANEW] = undefined;
  return loaded;
}
