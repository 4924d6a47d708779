import type { TableClient } from '@azure/data-tables';
import type { AuditEntity, BatchWriter } from './group-commit';
import { EntityRejectedError } from './group-commit';

const WRITE_DEADLINE_MS = 10_000;

/**
 * Adapter: one `submitTransaction` of `create` actions (insert only: never upsert, update or
 * merge, so a row once written cannot be altered through this path). When the service fails a
 * transaction because of one entity, its error message starts with that entity's index
 * (`"3:The specified entity already exists. …"`); that index is surfaced as `EntityRejectedError`.
 */
export class TableBatchWriter implements BatchWriter {
  #ready: Promise<void> | undefined;

  constructor(private readonly client: TableClient) {}

  async insertBatch(entities: readonly AuditEntity[]): Promise<void> {
    await this.#ensureTable();
    try {
      await this.client.submitTransaction(
        entities.map((e) => ['create', e]),
        { abortSignal: AbortSignal.timeout(WRITE_DEADLINE_MS) },
      );
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) this.#ready = undefined;
      const index = failedIndex(err);
      if (index !== undefined && index < entities.length) throw new EntityRejectedError(index, status === 409, { cause: err });
      throw err;
    }
  }

  prepare(): Promise<void> {
    return this.#ensureTable().catch(() => undefined);
  }

  #ensureTable(): Promise<void> {
    this.#ready ??= this.client.createTable({ abortSignal: AbortSignal.timeout(WRITE_DEADLINE_MS) }).catch((err: unknown) => {
      // In Azure the identity's role is scoped to the table itself, which the template creates:
      // it may not create tables, and need not. A missing table then shows up as a failed write.
      if ((err as { statusCode?: number }).statusCode === 403) return;
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}

/** The failed entity's index from a transaction error's message (`"<index>:<message>"`), if any. */
export function failedIndex(err: unknown): number | undefined {
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const match = /^(\d{1,3}):/.exec(err instanceof Error ? err.message : '');
  return match ? Number(match[1]) : undefined;
}
