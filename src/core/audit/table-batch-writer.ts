import type { TableClient } from '@azure/data-tables';
import { ServiceClient } from '@azure/core-client';
import { RestError, createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import type { HttpClient } from '@azure/core-rest-pipeline';
import type { AuditEntity, BatchWriter } from './group-commit';
import { EntityRejectedError } from './group-commit';
import { batchFailure, insertBatchRequest } from './table-batch-body';

const WRITE_DEADLINE_MS = 10_000;

export interface TableBatchWriterOptions {
  /** The transport the client was given, if any (default: the one the SDK's clients share, so the batch reuses their connection). */
  readonly httpClient?: HttpClient;
  /** As given to the client: a loopback store over plain HTTP. */
  readonly allowInsecureConnection?: boolean;
}

/**
 * Adapter: one entity group transaction of inserts (never upsert, update or merge, so a row once
 * written cannot be altered through this path), the request `submitTransaction` would send for
 * `create` actions (see `insertBatchRequest`), sent through the client's own pipeline. When the
 * service fails a transaction because of one entity, its error message starts with that entity's
 * index (`"3:The specified entity already exists. …"`); that index is surfaced as `EntityRejectedError`.
 */
export class TableBatchWriter implements BatchWriter {
  #ready: Promise<void> | undefined;
  readonly #sender: ServiceClient;
  readonly #batchUrl: string;
  readonly #rowsUrl: string;

  constructor(
    private readonly client: TableClient,
    private readonly options: TableBatchWriterOptions = {},
  ) {
    this.#sender = new ServiceClient({ pipeline: client.pipeline, ...(options.httpClient ? { httpClient: options.httpClient } : {}) });
    // A SAS signs the request's address: it stays on `$batch`, and is left off the rows' own.
    const [base, sas] = client.url.split('?');
    const root = base.endsWith('/') ? base : `${base}/`;
    this.#batchUrl = `${root}$batch${sas === undefined ? '' : `?${sas}`}`;
    this.#rowsUrl = `${root}${client.tableName}`;
  }

  async insertBatch(entities: readonly AuditEntity[]): Promise<void> {
    await this.#ensureTable();
    try {
      const { headers, body } = insertBatchRequest(this.#rowsUrl, entities);
      const request = createPipelineRequest({
        url: this.#batchUrl,
        method: 'POST',
        headers: createHttpHeaders(headers),
        body,
        abortSignal: AbortSignal.timeout(WRITE_DEADLINE_MS),
        allowInsecureConnection: this.options.allowInsecureConnection ?? false,
      });
      const response = await this.#sender.sendRequest(request);
      // Stryker disable next-line StringLiteral: an answer without a body reads as an empty one, and so does any text that is neither JSON nor a changeset
      const failure = batchFailure(response.status, response.bodyAsText ?? '');
      if (failure) throw new RestError(failure.message, { code: failure.code, statusCode: failure.statusCode, request, response });
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) this.#ready = undefined;
      const index = failedIndex(err);
      if (index === undefined || index >= entities.length) throw err;
      throw new EntityRejectedError(index, status === 409, { cause: err });
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
  if (!(err instanceof Error) || typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const match = /^(\d{1,3}):/.exec(err.message);
  return match ? Number(match[1]) : undefined;
}
