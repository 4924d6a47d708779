import { HttpRequest, InvocationContext } from '@azure/functions';
import type { HttpRequestInit } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { loadConfig } from '../../src/core/config';
import { AuditUnavailableError, InvalidTokenError } from '../../src/core/errors';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { HealthTracker } from '../../src/core/vend';
import { FixedAuditKey } from '../../src/core/secrets';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';

const TENANT = '11111111-2222-3333-4444-555555555555';
const SP = '22222222-3333-4444-5555-666666666666';
const RESOURCE = '/subscriptions/33333333-4444-5555-6666-777777777777/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/ws';
// A JWT-shaped token with a `uti`, as Entra ID would mint it (never verified here, only read for the audit).
const MINTED = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ uti: 'uti-123', exp: 2_000_000_000 })).toString('base64url')}.c2lnbmF0dXJlLXNlY3JldA`;

const config = loadConfig({
  VENDING_CONFIG: JSON.stringify({
    cloud: 'AzurePublic',
    tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv.vault.azure.net',
    servicePrincipals: { 'etl-sp': { clientId: SP, secret: 'etl-sp-secret' } },
    workspaces: { prod: { host: 'https://adb-1.2.azuredatabricks.net', resourceId: RESOURCE, servicePrincipal: 'etl-sp' } },
    grants: [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['aad'], maxLifetimeSeconds: 3600 }],
  }),
  AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
  AUDIT_HMAC_KEY: Buffer.alloc(32, 3).toString('base64'),
});

const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-1', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined };

/** The real routes and core over fakes: a caller check, a minter, an audit sink that can fail. */
function world(overrides: Partial<VendDeps> = {}) {
  const rows: AuditRecord[] = [];
  const logs: string[] = [];
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: (auth) => (auth === 'Bearer good' ? Promise.resolve(caller) : Promise.reject(new InvalidTokenError('The token is malformed.'))),
    limiter: new RateLimiter(100, { now: () => 1_000 }),
    minter: { getToken: () => Promise.resolve({ token: MINTED, expiresOnMs: 2_000_000_000_000 }) },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey: new FixedAuditKey(Buffer.alloc(32, 3)),
    clock: { now: () => 1_764_000_000_000 },
    health: new HealthTracker(),
    pats: { create: () => Promise.reject(new Error('unused')), revoke: () => Promise.reject(new Error('unused')), list: () => Promise.reject(new Error('unused')) },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
    ...overrides,
  };
  const routes = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const context = new InvocationContext({ functionName: 'token', logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')) });
  const post = async (body: unknown, headers: Record<string, string> = { authorization: 'Bearer good' }) => {
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { 'content-type': 'application/json', ...headers }, body: { string: JSON.stringify(body) } });
    const res = await (routes.token)(request, context);
    return { status: res.status, headers: new Headers(res.headers), body: JSON.parse(typeof res.body === "string" ? res.body : "{}") as Record<string, unknown> };
  };
  const revoke = async (workspace: string, tokenId: string) => {
    const request = new HttpRequest({ method: 'DELETE', url: 'http://localhost/api/token/x/y', headers: { authorization: 'Bearer good' }, params: { workspace, token_id: tokenId } });
    const res = await (routes.revokeToken)(request, context);
    return { status: res.status, body: JSON.parse(typeof res.body === 'string' ? res.body : '{}') as Record<string, unknown> };
  };
  /** A request shaped as the library builds it with HTTP streaming on: headers apart, body a live stream. */
  const postStream = async (body: ReadableStream<Uint8Array>, headers: Record<string, string>) => {
    const nativeRequest = new Request('http://localhost/api/token', { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json', ...headers }, body, duplex: 'half' });
    const res = await (routes.token)(new HttpRequest({ nativeRequest } as HttpRequestInit), context);
    return { status: res.status, body: JSON.parse(typeof res.body === 'string' ? res.body : '{}') as Record<string, unknown> };
  };
  return { rows, logs, post, revoke, postStream };
}

describe('token handler (constructed HttpRequest, no host)', () => {
  it('records the issuance with the uti and a fingerprint, never the token', async () => {
    const { rows, logs, post } = world();
    const res = await post({ workspace: 'prod' });
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBe(MINTED);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'issued', token_id: 'uti-123', token_fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) as string });
    expect(JSON.stringify(rows) + logs.join('\n')).not.toContain(MINTED.split('.')[2]);
  });

  it('without the audit key, answers 503 audit_unavailable with Retry-After and mints nothing', async () => {
    let minted = 0;
    const auditKey = { current: () => Promise.reject(new AuditUnavailableError(new Error('no key'), 5)), problem: () => 'audit key: missing' };
    const { post } = world({ auditKey, minter: { getToken: () => (minted++, Promise.resolve({ token: MINTED, expiresOnMs: 2_000_000_000_000 })) } });
    const res = await post({ workspace: 'prod' });
    expect({ status: res.status, code: res.body.code, retryAfter: res.headers.get('retry-after') }).toEqual({ status: 503, code: 'audit_unavailable', retryAfter: '5' });
    expect(minted).toBe(0);
  });

  it('fails closed: an audit sink that cannot write means 503 and no token', async () => {
    const { post, logs } = world({ audit: { record: () => Promise.reject(new AuditUnavailableError(new Error('table down'))) } });
    const res = await post({ workspace: 'prod' });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 'audit_unavailable' });
    expect(res.headers.get('retry-after')).toBe('5');
    expect(JSON.stringify(res.body)).not.toContain(MINTED.split('.')[1]);
    expect(logs.join('\n')).not.toContain(MINTED.split('.')[2]);
  });

  it('turns a bug into a generic 500 with no stack, and logs the cause without secrets', async () => {
    const bug = new TypeError('Cannot read properties of undefined (reading "x")');
    const { post, logs } = world({ minter: { getToken: () => Promise.reject(bug) } });
    const res = await post({ workspace: 'prod' });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'internal_error', detail: expect.stringContaining('request id') as string });
    expect(JSON.stringify(res.body)).not.toMatch(/TypeError|reading|\n\s+at /);
    expect(logs.join('\n')).toContain('TypeError');
  });

  it('records refusals with what was known', async () => {
    const { rows, post } = world();
    expect((await post({ workspace: 'prod' }, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post({ workspace: 'other' })).status).toBe(403);
    expect(rows.map((r) => [r.outcome, r.code, r.caller_oid, r.workspace, r.service_principal])).toEqual([
      ['denied', 'invalid_token', undefined, undefined, undefined],
      ['denied', 'not_granted', 'oid-1', 'other', undefined],
    ]);
  });
});

describe('names are what they claim (before the decision or the audit sees them)', () => {
  const hostile = ['prod\r\nINJECTED: yes', 'pr\u0007od', 'prod\u202egnp.exe', 'a'.repeat(65), '.hidden', 'pröd', 'prod '];

  it.each(hostile)('refuses workspace %j in the body with 400, and records no raw name', async (name) => {
    const { rows, logs, post } = world();
    const res = await post({ workspace: name, purpose: 'p' });
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(res.body.detail).toMatch(/^workspace: must be 1-64 of/);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.workspace).toBeUndefined();
    expect(JSON.stringify(rows) + logs.join('\n') + JSON.stringify(res.body)).not.toContain(name);
  });

  it.each(hostile)('refuses workspace %j on the revoke route with 400, and records no raw name', async (name) => {
    const { rows, logs, revoke } = world();
    const res = await revoke(name, '1234');
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.workspace).toBeUndefined();
    expect(JSON.stringify(rows) + logs.join('\n') + JSON.stringify(res.body)).not.toContain(name);
  });

  it.each([
    ['a control character (BEL)', 'a\u0007b'],
    ['a line feed', 'a\nb'],
    ['a bidi override (format)', 'abc\u202edef'],
    ['a zero-width joiner (format)', 'a\u200db'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00'],
    ['a private-use code point', 'a\ue000b'],
    ['an unassigned code point', 'a\u0378b'],
    ['a line separator', 'a\u2028b'],
  ])('refuses a purpose with %s', async (_what, purpose) => {
    const { rows, post } = world();
    const res = await post({ workspace: 'prod', purpose });
    expect({ status: res.status, code: res.body.code, detail: res.body.detail }).toEqual({ status: 400, code: 'invalid_request', detail: 'purpose: must be printable characters only' });
    expect(rows[0]?.purpose).toBeUndefined();
  });

  it('accepts a printable purpose in any script, emoji (a valid surrogate pair) included', async () => {
    const { rows, post } = world();
    const purpose = 'nightly ETL – café 日本 🚀';
    expect((await post({ workspace: 'prod', purpose })).status).toBe(200);
    expect(rows[0]?.purpose).toBe(purpose);
  });
});

describe('no enumeration of workspace names', () => {
  it('answers an unknown and an existing-but-ungranted workspace alike', async () => {
    const nobody: CallerIdentity = { ...caller, roles: [] };
    const { rows, post } = world({ verifyCaller: () => Promise.resolve(nobody) });
    const existing = await post({ workspace: 'prod' }, { authorization: 'Bearer any', 'x-request-id': 'same' });
    const unknown = await post({ workspace: 'prod2' }, { authorization: 'Bearer any', 'x-request-id': 'same' });
    expect(existing.status).toBe(403);
    expect({ ...unknown.body, detail: String(unknown.body.detail).replace('prod2', 'prod') }).toEqual(existing.body);
    expect(existing.body).toMatchObject({ code: 'not_granted', detail: 'Not granted, or no such workspace: "prod".' });
    expect([...existing.headers.keys()].sort()).toEqual([...unknown.headers.keys()].sort());
    // The audit trail still tells them apart: only the configured workspace has a service principal.
    expect(rows.map((r) => [r.code, r.workspace, r.service_principal])).toEqual([
      ['not_granted', 'prod', 'etl-sp'],
      ['not_granted', 'prod2', undefined],
    ]);
  });
});

describe('bodies are bounded while read', () => {
  /** 50 MB made on demand, 64 KiB a pull, counting what was pulled. */
  function fiftyMegabytes(): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
        if (pulled >= 50 * 1024 * 1024) controller.close();
      },
    });
    return { stream, pulled: () => pulled };
  }

  it.each([
    ['a content-length that lies (says 100)', { 'content-length': '100' }],
    ['no content-length (chunked)', {}],
  ])('answers 413 with %s, having pulled only a bounded part of 50 MB', async (_name, headers) => {
    const { rows, postStream } = world();
    const source = fiftyMegabytes();
    const res = await postStream(source.stream, headers);
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 413, code: 'body_too_large' });
    expect(rows.map((r) => r.code)).toEqual(['body_too_large']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The limit, and at most 1 MiB more read and dropped (so the connection stays whole), in 64 KiB pulls.
    expect(source.pulled()).toBeLessThan(2 * 1024 * 1024);
  });

  it('takes a streamed body under the limit', async () => {
    const { postStream } = world();
    const res = await postStream(new Blob([JSON.stringify({ workspace: 'prod' })]).stream(), {});
    expect(res.status).toBe(200);
  });
});
