import type { TokenCredential } from '@azure/identity';
import { TableClient } from '@azure/data-tables';
import type { AuditTarget } from '../config';
import { AuditUnavailableError, describeError } from '../errors';
import type { AuditRecord, AuditSink } from './audit-record';
import { GroupCommitter } from './group-commit';
import type { BatchWriter } from './group-commit';
import { NO_TELEMETRY } from '../telemetry';
import type { AuditRowKind, Telemetry } from '../telemetry';
import { ISSUANCE_BUCKETS, REFUSAL_BUCKETS, dayOf, kindOf, rowKey } from './partition-layout';
import { RefusalRecorder, withoutUndefined } from './refusal-recorder';
import type { RefusalBoundOptions } from './refusal-recorder';
import { TableBatchWriter } from './table-batch-writer';

const RETRY = { maxRetries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000 };
const SWEEP_MS = 10_000;

export interface AuditSinkOptions {
  /** Told whether each issuance write succeeded (health). */
  readonly onOutcome?: (ok: boolean) => void;
  /** Told of a background refusal write that failed; gets a sanitized summary, never row values. */
  readonly onBackgroundError?: (error: ReturnType<typeof describeError>) => void;
  readonly refusals?: RefusalBoundOptions;
  /** See `GroupCommitOptions.slotTimeoutMs`: the audit write deadline, so a hung batch frees its slot. */
  readonly slotTimeoutMs?: number;
  /** A span per batch transaction and the batch sizes. */
  readonly telemetry?: Telemetry;
}

/**
 * Audit rows in Table storage (README "Audit record"). Issued and revoked decisions are group
 * committed into issuance partitions and `record` resolves only once the row is durable (the
 * caller fails closed on a rejection). Refusals go to their own partitions in the background,
 * bounded per caller or client address; `record` resolves for them at once.
 */
export class TableAuditSink implements AuditSink {
  readonly #issuance: GroupCommitter;
  readonly #refusalQueue: GroupCommitter;
  readonly #refusals: RefusalRecorder;
  readonly #onOutcome: (ok: boolean) => void;
  readonly #sweeper: NodeJS.Timeout;
  readonly #writer: BatchWriter;

  /** `target` is the configured table, or (tests) any `BatchWriter`; `onOutcome` feeds health. */
  constructor(target: AuditTarget | BatchWriter, credential?: TokenCredential, onOutcome?: (ok: boolean) => void, options: AuditSinkOptions = {}) {
    const writer = 'insertBatch' in target ? target : new TableBatchWriter(auditTableClient(target, credential), { allowInsecureConnection: allowsPlainHttp(target) });
    this.#writer = writer;
    this.#onOutcome = onOutcome ?? options.onOutcome ?? (() => undefined);
    const slot = options.slotTimeoutMs === undefined ? {} : { slotTimeoutMs: options.slotTimeoutMs };
    const telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#issuance = new GroupCommitter(observed(writer, 'issuance', telemetry), { kind: 'issuance', buckets: ISSUANCE_BUCKETS, ...slot });
    this.#refusalQueue = new GroupCommitter(observed(writer, 'refusal', telemetry), { kind: 'refusal', buckets: REFUSAL_BUCKETS, maxInFlight: 1, ...slot });
    const report = options.onBackgroundError ?? defaultBackgroundError;
    this.#refusals = new RefusalRecorder(this.#refusalQueue, { ...options.refusals, onWriteError: (err) => report(describeError(err)) });
    this.#sweeper = setInterval(() => this.#refusals.sweep(), SWEEP_MS).unref();
  }

  async record(record: AuditRecord): Promise<void> {
    if (kindOf(record.outcome) === 'refusal') {
      this.#refusals.record(record);
      return;
    }
    try {
      await this.#issuance.submit(dayOf(record.time), withoutUndefined(record, { rowKey: rowKey(record.time, record.request_id) }));
      this.#onOutcome(true);
    } catch (err) {
      this.#onOutcome(false);
      throw new AuditUnavailableError(err);
    }
  }

  /**
   * Start-up: the table made ready (and, in Azure, the connection and the app's storage token) before
   * the first issuance waits on it. Never rejects: a failure is met again, and reported, by the first write.
   */
  prepare(): Promise<void> {
    return this.#writer.prepare?.() ?? Promise.resolve();
  }

  /** Writes pending summaries and waits until every queued row is written or failed (shutdown, tests). */
  async drain(deadlineMs = 10_000): Promise<void> {
    this.#refusals.sweep(true);
    const until = Date.now() + deadlineMs;
    while ((!this.#refusalQueue.idle || !this.#issuance.idle) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}

/** The configured audit table: the sink writes through it, the audit API reads through it. */
export function auditTableClient(target: AuditTarget, credential: TokenCredential | undefined): TableClient {
  if (target.kind === 'connection-string') {
    return TableClient.fromConnectionString(target.connectionString, target.tableName, { allowInsecureConnection: allowsPlainHttp(target), retryOptions: RETRY });
  }
  if (!credential) throw new Error('a credential is needed for the audit table endpoint');
  return new TableClient(target.endpoint, target.tableName, credential, { retryOptions: RETRY });
}

/** A connection string that asks for plain HTTP, or names a table endpoint on this machine over it (the emulator). */
function allowsPlainHttp(target: AuditTarget): boolean {
  return target.kind === 'connection-string' && /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(target.connectionString);
}

/**
 * Each batch as telemetry sees it: its size, and a Table storage span. Group commit starts a batch
 * from whichever request's write found the queue idle, so the span is that request's child.
 */
function observed(writer: BatchWriter, kind: AuditRowKind, telemetry: Telemetry): BatchWriter {
  // Stryker disable next-line ConditionalExpression: with telemetry off its calls do nothing but run the write (NO_TELEMETRY); returning the writer itself only saves that indirection.
  if (!telemetry.enabled) return writer;
  return {
    insertBatch: (entities) => {
      telemetry.auditBatch(kind, entities.length);
      return telemetry.dependency('table', 'insert batch', () => writer.insertBatch(entities));
    },
  };
}

function defaultBackgroundError(error: ReturnType<typeof describeError>): void {
  console.warn(JSON.stringify({ level: 'warn', message: 'audit record of a refusal could not be written', error }));
}
