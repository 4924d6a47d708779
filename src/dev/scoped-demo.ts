import type { Sandbox } from './sandbox';
import type { SpawnedHost } from './spawn-host';

/**
 * Part of `npm start`: a scoped `oauth` token (clusters:read) from the workspace's own token
 * endpoint, accepted for what its scope allows and refused for the rest. Prints no token.
 */
export async function demoScopedToken(sandbox: Sandbox, host: SpawnedHost): Promise<void> {
  const callerToken = await sandbox.issueCallerToken();
  console.log(`4. The same caller asks for a scoped token (mode oauth, scopes ["clusters:read"]) for analytics-scoped:`);
  const res = await fetch(`${host.url}/token`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${callerToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ workspace: 'analytics-scoped', mode: 'oauth', scopes: ['clusters:read'], purpose: 'npm start demo' }),
  });
  const body = (await res.json()) as { scopes?: string[]; expires_in?: number; headers?: Record<string, string>; code?: string; detail?: string };
  if (res.status !== 200 || !body.headers) throw new Error(`scoped vend failed: HTTP ${res.status} ${body.code ?? ''} ${body.detail ?? ''}`);
  console.log(`   POST /api/token → 200, a workspace OAuth token with scopes ${JSON.stringify(body.scopes)}, valid ${body.expires_in} s (token not shown)`);
  const list = await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/list`, { headers: body.headers });
  const create = await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/create`, { method: 'POST', headers: body.headers, body: '{}' });
  const refusal = (await create.json()) as { error_code?: string; message?: string };
  console.log(`   GET  /api/2.0/clusters/list   → ${list.status} (within clusters:read)`);
  console.log(`   POST /api/2.0/clusters/create → ${create.status} ${refusal.error_code ?? ''}: ${refusal.message ?? ''}`);
  if (list.status !== 200 || create.status !== 403) throw new Error('the local workspace did not enforce the token scope');
}
