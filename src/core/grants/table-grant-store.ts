import type { TokenCredential } from '@azure/identity';
import { TableClient, odata } from '@azure/data-tables';
import type { z } from 'zod';
import type { GrantsTarget } from '../config';
import { ConflictError, UpstreamUnavailableError } from '../errors';
import { withDeadline } from './deadline';
import type { GrantStore, Stored, StoredKind } from './grant-store';

const RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 };
const DEADLINE_MS = 8_000;

interface GrantEntity {
  partitionKey: string;
  rowKey: string;
  workspace: string;
  state: string;
  doc: string;
}

/**
 * Grants and grant requests in Table storage: PartitionKey = kind, RowKey = id, the document as
 * JSON beside the columns an operator filters on. A row that does not parse is skipped, so a
 * hand-edited row can never admit anyone. SDK errors become a status-only UpstreamUnavailableError.
 */
export class TableGrantStore implements GrantStore {
  readonly #client: TableClient;
  readonly #deadlineMs: number;
  #ready: Promise<void> | undefined;

  /** `options.deadlineMs`: how long one call may take, its request aborted then (default 8 s). */
  constructor(target: GrantsTarget, credential: TokenCredential, options: { readonly deadlineMs?: number } = {}) {
    this.#deadlineMs = options.deadlineMs ?? DEADLINE_MS;
    this.#client =
      target.kind === 'connection-string'
        ? TableClient.fromConnectionString(target.connectionString, target.tableName, {
            allowInsecureConnection: /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(target.connectionString),
            retryOptions: RETRY,
          })
        : new TableClient(target.endpoint, target.tableName, credential, { retryOptions: RETRY });
  }

  list<S extends z.ZodType<{ id: string }>>(kind: StoredKind, schema: S): Promise<Stored<z.infer<S>>[]> {
    return this.#call(async (abortSignal) => {
      await this.#ensureTable(abortSignal);
      const rows: Stored<z.infer<S>>[] = [];
      const entities = this.#client.listEntities<GrantEntity>({ queryOptions: { filter: odata`PartitionKey eq ${kind}` }, abortSignal });
      for await (const entity of entities) {
        const item = parseDoc(entity.doc, schema);
        if (item && item.id === entity.rowKey) rows.push({ item, etag: entity.etag });
      }
      return rows;
    });
  }

  get<S extends z.ZodType<{ id: string }>>(kind: StoredKind, id: string, schema: S): Promise<Stored<z.infer<S>> | undefined> {
    return this.#call(async (abortSignal) => {
      try {
        const entity = await this.#client.getEntity<GrantEntity>(kind, id, { abortSignal });
        const item = parseDoc(entity.doc, schema);
        return item && item.id === id ? { item, etag: entity.etag } : undefined;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  insert(kind: StoredKind, item: { id: string; workspace: string; state: string }): Promise<void> {
    return this.#call(async (abortSignal) => {
      await this.#ensureTable(abortSignal);
      await this.#client.createEntity(toEntity(kind, item), { abortSignal });
    });
  }

  replace(kind: StoredKind, item: { id: string; workspace: string; state: string }, etag: string): Promise<void> {
    return this.#call(async (abortSignal) => {
      try {
        await this.#client.updateEntity(toEntity(kind, item), 'Replace', { etag, abortSignal });
      } catch (err) {
        if (statusOf(err) === 412) throw new ConflictError({ detail: 'It changed meanwhile; read it again and retry.' });
        throw err;
      }
    });
  }

  async #call<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(this.#deadlineMs, run);
    } catch (err) {
      if (err instanceof ConflictError) throw err;
      // Only the status passes: SDK messages can carry account names and request bodies.
      const cause = Object.assign(new Error('grants table request failed'), { name: 'GrantStoreError', statusCode: statusOf(err) });
      throw new UpstreamUnavailableError('The grants table could not be reached. Retry later.', cause);
    }
  }

  #ensureTable(abortSignal: AbortSignal): Promise<void> {
    this.#ready ??= this.#client.createTable({ abortSignal }).catch((err: unknown) => {
      // In Azure the template creates the table and the app may not: 403 here is expected.
      if (statusOf(err) === 403) return;
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}

function toEntity(kind: StoredKind, item: { id: string; workspace: string; state: string }): GrantEntity {
  return { partitionKey: kind, rowKey: item.id, workspace: item.workspace, state: item.state, doc: JSON.stringify(item) };
}

function parseDoc<S extends z.ZodType>(doc: unknown, schema: S): z.infer<S> | undefined {
  if (typeof doc !== 'string') return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(doc));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
