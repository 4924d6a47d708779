import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import type { TransactionAction } from '@azure/data-tables';
import type { Sandbox } from '../../src/dev/sandbox';

/**
 * Writes `count` API grants for the bench's workspace to the grants table, each admitting an app
 * no bench caller is, so every vend matches its caller against all of them (the worst case for
 * the hot path) and none of them admits anyone. Rows as the service writes them, in batches.
 */
export async function seedApiGrants(sandbox: Sandbox, count: number): Promise<void> {
  const { connectionString, tableName } = sandbox.grants;
  const client = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  const now = new Date();
  const expiresAt = new Date(now.getTime() + 30 * 86_400_000).toISOString();
  const actor = { tid: sandbox.tenantId, oid: randomUUID(), appid: randomUUID(), kind: 'user' as const };
  for (let start = 0; start < count; start += 100) {
    const actions: TransactionAction[] = [];
    for (let i = start; i < Math.min(count, start + 100); i++) {
      const id = randomUUID();
      const doc = {
        id, workspace: 'analytics-sandbox', callers: { roles: [], appIds: [randomUUID()], objectIds: [] }, modes: ['aad'],
        maxLifetimeSeconds: 3600, managementToken: false, expiresAt, reason: `bench grant ${i}`, createdBy: actor, createdAt: now.toISOString(), state: 'active',
      };
      actions.push(['create', { partitionKey: 'grant', rowKey: id, workspace: doc.workspace, state: doc.state, doc: JSON.stringify(doc) }]);
    }
    await client.submitTransaction(actions);
  }
}

/** Until the host's health says its grants are read (`grants: ok`), bounded. */
export async function untilGrantsLoaded(hostUrl: string, limitMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const health = (await (await fetch(`${hostUrl}/health`)).json()) as { checks?: Record<string, string> };
    if (health.checks?.grants === 'ok') return;
    if (Date.now() - start > limitMs) throw new Error('the host did not read the grants table in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
