import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { TableClient } from '@azure/data-tables';
import type { AuditTarget } from '../config';
import { AuditUnavailableError } from '../errors';
import type { AuditRecord, AuditSink } from './audit-record';

const RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 };

/**
 * Audit rows in Table storage: PartitionKey = UTC day, RowKey = sortable time + request id.
 * The table is created on first use (idempotent), so a fresh account works without a manual step.
 */
export class TableAuditSink implements AuditSink {
  readonly #client: TableClient;
  #ready: Promise<void> | undefined;

  constructor(target: AuditTarget, credential: TokenCredential, private readonly onOutcome: (ok: boolean) => void = () => undefined) {
    this.#client =
      target.kind === 'connection-string'
        ? TableClient.fromConnectionString(target.connectionString, target.tableName, {
            allowInsecureConnection: /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(target.connectionString),
            retryOptions: RETRY,
          })
        : new TableClient(target.endpoint, target.tableName, credential, { retryOptions: RETRY });
  }

  async record(record: AuditRecord): Promise<void> {
    try {
      await this.#ensureTable();
      await this.#insert(record, '');
      this.onOutcome(true);
    } catch (err) {
      this.onOutcome(false);
      throw new AuditUnavailableError(err);
    }
  }

  async #insert(record: AuditRecord, suffix: string): Promise<void> {
    const time = record.time;
    const entity = {
      partitionKey: time.slice(0, 10).replace(/-/g, ''),
      rowKey: `${time.replace(/[-:]/g, '')}_${record.request_id}${suffix}`,
      ...withoutUndefined(record),
    };
    try {
      await this.#client.createEntity(entity, { abortSignal: AbortSignal.timeout(10_000) });
    } catch (err) {
      // A caller may reuse its own request id within one millisecond; keep both rows.
      if ((err as { statusCode?: number }).statusCode === 409 && !suffix) return this.#insert(record, `_${randomBytes(4).toString('hex')}`);
      if ((err as { statusCode?: number }).statusCode === 404) this.#ready = undefined;
      throw err;
    }
  }

  #ensureTable(): Promise<void> {
    this.#ready ??= this.#client.createTable({ abortSignal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      // In Azure the identity's role is scoped to the table itself, which the template creates:
      // it may not create tables, and need not. A missing table then shows up as a failed write.
      if ((err as { statusCode?: number }).statusCode === 403) return;
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}

function withoutUndefined(record: AuditRecord): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
