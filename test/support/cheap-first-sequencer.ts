import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * File order for the mutation test set. Each mutant run stops at its first failing test (bail 1),
 * so the order decides what a killed mutant costs. Vitest's default order runs the slowest file
 * first (good for filling parallel workers, which a mutant run has only one of), so a mutant that
 * a 5 ms unit test kills waited first for a file that waits on real deadlines. Here:
 * - the shared-graph project before the isolated one (a fresh worker costs more than most runs);
 * - within it, a file that failed in the previous run first: consecutive mutants sit next to each
 *   other in one source file, and the file that killed one usually kills the next;
 * - then the file that took least time in its last run, then files not run yet, smallest first.
 */
export default class CheapFirstSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cost = (spec: TestSpecification): number[] => {
      const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
      const last = this.ctx.cache.getFileTestResults(key);
      const isolated = spec.project.config.isolate ? 1 : 0;
      if (last) return [isolated, last.failed ? 0 : 1, 0, last.duration];
      return [isolated, 1, 1, this.ctx.cache.getFileStats(key)?.size ?? Number.MAX_SAFE_INTEGER];
    };
    const keyed = files.map((spec) => ({ spec, cost: cost(spec) }));
    keyed.sort((a, b) => a.cost.reduce((order, x, i) => order || x - (b.cost[i] ?? 0), 0));
    return Promise.resolve(keyed.map(({ spec }) => spec));
  }
}
