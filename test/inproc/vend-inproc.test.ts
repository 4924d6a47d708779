import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { inprocWorld } from './world';

const w = inprocWorld();
const rid = (): string => `inproc-${randomUUID()}`;

describe('production wiring in process: vend, list, revoke, health against the sandbox', () => {
  it('vends an aad token the workspace accepts and records it before answering', async () => {
    const id = rid();
    const reply = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'analytics-sandbox', purpose: 'inproc' }, headers: { 'x-request-id': id } });
    expect(reply.status, reply.text).toBe(200);
    const body = reply.json as { access_token: string; headers: Record<string, string>; mode: string; expires_in: number };
    expect(body.mode).toBe('aad');
    expect(body.expires_in).toBeGreaterThan(3000);
    const me = await fetch(`${w.sb.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: body.headers });
    expect(me.status).toBe(200);
    const row = await w.auditRow(id);
    expect(row).toMatchObject({ outcome: 'issued', status: 200, workspace: 'analytics-sandbox', service_principal: 'etl-sp', mode: 'aad', purpose: 'inproc' });
    expect(JSON.stringify(row)).not.toContain(body.access_token.split('.')[2]);
  });

  it('adds the management token only when asked and granted', async () => {
    const reply = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'ops-sandbox', management_token: true } });
    expect(reply.status, reply.text).toBe(200);
    const headers = (reply.json as { headers: Record<string, string> }).headers;
    expect(headers['X-Databricks-Azure-SP-Management-Token']).toMatch(/^eyJ/);
    const refused = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'analytics-sandbox', management_token: true } });
    expect({ status: refused.status, code: refused.json.code }).toEqual({ status: 403, code: 'not_granted' });
  });

  it('creates a PAT, lists it as the SP, and revokes it for the same caller only', async () => {
    const id = rid();
    const created = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 }, headers: { 'x-request-id': id } });
    expect(created.status, created.text).toBe(200);
    const pat = created.json as { access_token: string; token_id: string; expires_in: number };
    expect(pat.access_token).toMatch(/^dapi[0-9a-f]{32}/);
    expect(pat.expires_in).toBeGreaterThan(500);
    expect(pat.expires_in).toBeLessThanOrEqual(600);
    expect(await w.auditRow(id)).toMatchObject({ outcome: 'issued', mode: 'pat', token_id: pat.token_id });

    const unknown = await w.call('revokeToken', { method: 'DELETE', url: 'token/analytics-sandbox/nope', params: { workspace: 'analytics-sandbox', token_id: 'nope' } });
    expect(unknown.status).toBe(404);
    const bad = await w.call('revokeToken', { method: 'DELETE', url: 'token/analytics-sandbox/x', params: { workspace: 'analytics-sandbox', token_id: 'a b' } });
    expect({ status: bad.status, code: bad.json.code }).toEqual({ status: 400, code: 'invalid_request' });

    const revokeId = rid();
    const revoked = await w.call('revokeToken', {
      method: 'DELETE', url: `token/analytics-sandbox/${pat.token_id}`, params: { workspace: 'analytics-sandbox', token_id: pat.token_id }, headers: { 'x-request-id': revokeId },
    });
    expect(revoked.status, revoked.text).toBe(204);
    expect(revoked.headers.get('x-request-id')).toBe(revokeId);
    expect(await w.auditRow(revokeId)).toMatchObject({ outcome: 'revoked', status: 204, token_id: pat.token_id });
    const again = await w.call('revokeToken', { method: 'DELETE', url: 'x', params: { workspace: 'analytics-sandbox', token_id: pat.token_id } });
    expect(again.status).toBe(404);
  });

  it('lists only the workspaces the caller may vend for', async () => {
    const reply = await w.call('workspaces', { method: 'GET', url: 'workspaces' });
    expect(reply.status).toBe(200);
    const names = (reply.json as unknown as { workspaces?: { name: string }[] }).workspaces ?? (JSON.parse(reply.text) as { name: string }[]);
    const callerApp = w.sb.apps.callerApp;
    const granted = new Set(w.sb.config.grants
      .filter((g) => g.callers.appIds.includes(callerApp.clientId) || g.callers.roles.some((r) => callerApp.roles.includes(r)))
      .map((g) => g.workspace));
    expect(names.map((n) => n.name).sort()).toEqual([...granted].sort());
    expect(names.map((n) => n.name)).toEqual(expect.arrayContaining(['analytics-sandbox', 'ops-sandbox']));
  });

  it('reports health ok with each upstream checked after use', async () => {
    const reply = await w.call('health', { method: 'GET', url: 'health', token: null });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ status: 'ok', checks: { config: 'ok', keyvault: 'ok', entra: 'ok', audit: 'ok' } });
  });

  it('answers 401 for a missing token and records the refusal', async () => {
    const id = rid();
    const reply = await w.call('token', { method: 'POST', url: 'token', token: null, body: { workspace: 'analytics-sandbox' }, headers: { 'x-request-id': id } });
    expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 401, code: 'invalid_token' });
    // Refusal rows are written in the background.
    await vi.waitFor(async () => expect(await w.auditRow(id)).toMatchObject({ outcome: 'denied', code: 'invalid_token' }), { timeout: 10_000, interval: 100 });
  });
});
