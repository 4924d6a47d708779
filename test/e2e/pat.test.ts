import { describe, expect, it } from 'vitest';
import { stackWithHost } from './harness';

const env = stackWithHost();

describe('mode pat', () => {
  it('creates a short PAT the workspace accepts, revocable only by the caller that received it', async () => {
    const { sandbox } = env.stack;
    const owner = await env.stack.callerToken();
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 }, { token: owner, headers: { 'x-request-id': 'pat-1' } });
    expect(reply.status).toBe(200);
    const body = reply.json as { access_token: string; token_id: string; expires_in: number; headers: Record<string, string>; mode: string };
    expect(body.access_token).toMatch(/^dapi[0-9a-f]{32}$/);
    expect(body.mode).toBe('pat');
    expect(body.headers).toEqual({ Authorization: `Bearer ${body.access_token}` });
    expect(body.expires_in).toBeGreaterThan(590);
    expect(body.expires_in).toBeLessThanOrEqual(600);
    expect((await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/list`, { headers: body.headers })).status).toBe(200);
    expect((await env.stack.auditRows()).find((r) => r.request_id === 'pat-1')).toMatchObject({ outcome: 'issued', mode: 'pat', token_id: body.token_id });

    // Another caller holding the same grant may not revoke it, and learns nothing about it.
    const someoneElse = await env.stack.callerToken({ kind: 'user' });
    const denied = await env.stack.call(env.host, `/token/analytics-sandbox/${body.token_id}`, { method: 'DELETE', token: someoneElse });
    expect({ status: denied.status, code: denied.json.code }).toEqual({ status: 404, code: 'unknown_token' });

    const revoked = await env.stack.call(env.host, `/token/analytics-sandbox/${body.token_id}`, { method: 'DELETE', token: owner, headers: { 'x-request-id': 'pat-1-revoke' } });
    expect(revoked.status).toBe(204);
    expect(revoked.headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${sandbox.workspaceUrl}/api/2.0/clusters/list`, { headers: body.headers })).status).toBe(401);
    expect((await env.stack.auditRows()).find((r) => r.request_id === 'pat-1-revoke')).toMatchObject({ outcome: 'revoked', token_id: body.token_id });
    const again = await env.stack.call(env.host, `/token/analytics-sandbox/${body.token_id}`, { method: 'DELETE', token: owner });
    expect(again.status).toBe(404);
  });

  it('defaults the lifetime to the grant maximum and refuses more', async () => {
    const reply = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'pat' });
    expect(reply.status).toBe(200);
    expect(reply.json.expires_in).toBeGreaterThan(3590);
    const tooLong = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 3601 });
    expect({ status: tooLong.status, code: tooLong.json.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(tooLong.json.detail).toContain('3600');
  });

  it('is refused where the grant allows aad only, and with a management token', async () => {
    const ops = await env.stack.vend(env.host, { workspace: 'ops-sandbox', mode: 'pat' });
    expect({ status: ops.status, code: ops.json.code }).toEqual({ status: 403, code: 'not_granted' });
    const mixed = await env.stack.vend(env.host, { workspace: 'analytics-sandbox', mode: 'pat', management_token: true });
    expect({ status: mixed.status, code: mixed.json.code }).toEqual({ status: 403, code: 'not_granted' });
  });

  it('answers 405 on the revoke route for other methods', async () => {
    const reply = await env.stack.call(env.host, '/token/analytics-sandbox/abc', { method: 'GET' });
    expect({ status: reply.status, allow: reply.headers.get('allow') }).toEqual({ status: 405, allow: 'DELETE' });
  });
});
