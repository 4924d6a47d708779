import type { Sandbox } from './sandbox';
import type { SpawnedHost } from './spawn-host';

/** One JSON call for the demo; anything but the expected status stops `npm start` with the problem's code. */
async function call(url: string, token: string, method: string, body: unknown, expect: number): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const answer = (await res.json()) as Record<string, unknown> & { code?: string; detail?: string };
  if (res.status !== expect) throw new Error(`${method} ${new URL(url).pathname} → HTTP ${res.status} ${answer.code ?? ''} ${answer.detail ?? ''}`);
  return answer;
}

/**
 * Cross-team access without a ticket: team B's app (granted nothing by the config) asks for
 * analytics-sandbox, team A (its owners, a group in the config) approves, team B's app vends.
 */
export async function crossTeamDemo(sandbox: Sandbox, host: SpawnedHost, step: number): Promise<void> {
  const teamB = await sandbox.issueCallerToken({ clientId: sandbox.apps.otherCallerApp.clientId, roles: [] });
  const teamA = await sandbox.issueCallerToken({ kind: 'user', claims: { groups: [sandbox.apps.teamAGroupId] } });
  const vend = { workspace: 'analytics-sandbox', purpose: 'npm start cross-team demo' };
  await call(`${host.url}/token`, teamB, 'POST', vend, 403);
  console.log(`${step}. Team B's app (${sandbox.apps.otherCallerApp.clientId}) has no grant: POST /api/token → 403. It asks team A:`);
  const asked = await call(`${host.url}/grant-requests`, teamB, 'POST', { workspace: 'analytics-sandbox', reason: 'team B weekly report' }, 201);
  console.log(`   POST /api/grant-requests → 201, request ${String(asked.id)} pending`);
  const approved = await call(`${host.url}/grant-requests/${String(asked.id)}/approve`, teamA, 'POST', { expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() }, 201);
  const grant = approved.grant as { id: string; expiresAt: string };
  console.log(`${step + 1}. A team A owner (member of group ${sandbox.apps.teamAGroupId}) approves it for 30 days:`);
  console.log(`   POST /api/grant-requests/${String(asked.id)}/approve → 201, grant ${grant.id} until ${grant.expiresAt}`);
  const vended = await call(`${host.url}/token`, teamB, 'POST', vend, 200);
  console.log(`${step + 2}. Team B's app vends: POST /api/token → 200, valid ${String(vended.expires_in)} s (token not shown); the audit row names grant ${grant.id}.`);
}
