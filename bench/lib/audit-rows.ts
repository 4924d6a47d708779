import { TableClient } from '@azure/data-tables';
import type { Sandbox } from '../../src/dev/sandbox';

/** Audit rows per outcome (`issued`, `denied`, `failed`, `revoked`), reading only that column. */
export async function countAuditRows(sandbox: Sandbox): Promise<Record<string, number>> {
  const client = TableClient.fromConnectionString(sandbox.audit.connectionString, sandbox.audit.tableName, { allowInsecureConnection: true });
  const counts: Record<string, number> = {};
  const rows = client.listEntities<{ outcome?: string }>({ queryOptions: { select: ['outcome'] } });
  for await (const row of rows) {
    const outcome = row.outcome ?? 'none';
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}
