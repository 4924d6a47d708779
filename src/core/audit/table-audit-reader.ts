import { odata } from '@azure/data-tables';
import type { TableClient } from '@azure/data-tables';
import type { AuditFilter, AuditReader, AuditRow } from './audit-query';

const FILTER_FIELDS = ['outcome', 'caller_tid', 'caller_oid', 'caller_appid', 'workspace', 'request_id', 'token_id', 'token_fingerprint'] as const;

/** Adapter: one partition query per call; values are OData string literals, never spliced raw. */
export function tableAuditReader(client: TableClient): AuditReader {
  return {
    async *list(partitionKey: string, rowKeyFrom: string, rowKeyTo: string, filter: AuditFilter): AsyncIterable<AuditRow> {
      let expr = odata`PartitionKey eq ${partitionKey} and RowKey ge ${rowKeyFrom} and RowKey lt ${rowKeyTo}`;
      for (const field of FILTER_FIELDS) {
        const value = filter[field];
        // `field` is one of the constant names above; the value is an OData string literal (quotes doubled).
        if (value !== undefined) expr += ` and ${field} eq ${literal(value)}`;
      }
      if (filter.caller !== undefined) expr += ` and (caller_oid eq ${literal(filter.caller)} or caller_appid eq ${literal(filter.caller)})`;
      for await (const entity of client.listEntities({ queryOptions: { filter: expr } })) yield entity as AuditRow;
    },
  };
}

/** An OData string literal: quotes doubled, so a value can never end the literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
