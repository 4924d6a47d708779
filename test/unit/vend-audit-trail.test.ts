import { describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { NotGrantedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { Logger } from '../../src/core/http';
import type { CallerIdentity } from '../../src/core/policy';
import type { RequestContext, VendDeps } from '../../src/core/vend';
import { buildRecord, recordRefusal } from '../../src/core/vend/audit-trail';
import { TENANT } from '../support/vend-config';

// The audit row is built from what the decision knew; a refusal's row is handed over without
// holding the answer, and a sink that cannot take it is logged (ids only), never raised.

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-a', appId: 'app-a', roles: [], kind: 'user', name: 'a@example.test' };
const ctx: RequestContext = { requestId: 'req-1', authorization: 'Bearer secret.jwt.here', sourceIp: '198.51.100.7', userAgent: 'ua/1' };
const depsWith = (record: VendDeps['audit']['record'], now = NOW) => ({ clock: { now: () => now }, audit: { record } }) as unknown as VendDeps;

function capture() {
  const logs: [string, string, Record<string, unknown> | undefined][] = [];
  const logger: Logger = { info: (m, f) => void logs.push(['info', m, f]), warn: (m, f) => void logs.push(['warn', m, f]), error: (m, f) => void logs.push(['error', m, f]) };
  return { logs, logger };
}

describe('buildRecord', () => {
  it('writes the decision, the result and the request\'s ids, never the caller\'s token', () => {
    const r = buildRecord(depsWith(() => Promise.resolve()), ctx, { startedAt: NOW - 42, caller, workspace: 'prod', servicePrincipal: 'etl-sp', mode: 'oauth', managementToken: false, scopes: ['sql', 'clusters:read'], purpose: 'etl', auditQuery: '{"x":1}' }, 'issued', { status: 200, code: 'issued', tokenId: 'uti', fingerprint: 'fp', expiresOn: 123 });
    expect(r).toEqual({
      request_id: 'req-1', time: '2026-01-02T03:04:05.678Z', outcome: 'issued', status: 200, code: 'issued',
      caller_tid: TENANT, caller_oid: 'oid-a', caller_appid: 'app-a', caller_kind: 'user', caller_name: 'a@example.test',
      workspace: 'prod', service_principal: 'etl-sp', mode: 'oauth', management_token: false, scopes: 'sql clusters:read',
      token_id: 'uti', token_fingerprint: 'fp', expires_on: 123, purpose: 'etl', audit_query: '{"x":1}',
      source_ip: '198.51.100.7', user_agent: 'ua/1', latency_ms: 42,
    });
    expect(JSON.stringify(r)).not.toContain('secret.jwt.here');
  });

  it('leaves out what is not known: no caller, no scopes (an empty set too), no address', () => {
    const r = buildRecord(depsWith(() => Promise.resolve()), { ...ctx, sourceIp: undefined, userAgent: undefined }, { startedAt: NOW, scopes: [] }, 'denied', { status: 401, code: 'invalid_token' });
    expect(r).toMatchObject({ caller_tid: undefined, caller_oid: undefined, caller_kind: undefined, scopes: undefined, source_ip: undefined, user_agent: undefined, latency_ms: 0 });
  });

  it('a clock that stepped back gives latency 0, never negative; latency is rounded', () => {
    expect(buildRecord(depsWith(() => Promise.resolve(), NOW), ctx, { startedAt: NOW + 500 }, 'denied', { status: 403, code: 'not_granted' }).latency_ms).toBe(0);
    expect(buildRecord(depsWith(() => Promise.resolve(), NOW + 0.6), ctx, { startedAt: NOW }, 'denied', { status: 403, code: 'not_granted' }).latency_ms).toBe(1);
  });
});

describe('recordRefusal', () => {
  it('records a 4xx as denied and a 5xx (or a bug) as failed, with its status and code', async () => {
    const rows: AuditRecord[] = [];
    const { logs, logger } = capture();
    const deps = depsWith((r) => (rows.push(r), Promise.resolve()));
    recordRefusal(deps, ctx, { startedAt: NOW }, new NotGrantedError({ detail: 'no' }), logger);
    recordRefusal(deps, ctx, { startedAt: NOW }, new UpstreamUnavailableError('down'), logger);
    recordRefusal(deps, ctx, { startedAt: NOW }, new TypeError('bug'), logger);
    await Promise.resolve();
    expect(rows.map((r) => [r.outcome, r.status, r.code])).toEqual([['denied', 403, 'not_granted'], ['failed', 503, 'upstream_unavailable'], ['failed', 500, 'internal_error']]);
    expect(logs).toEqual([]);
  });

  it('a sink that rejects, or throws at once (even a non-error), is logged as a warning with the request id, never raised', async () => {
    const { logs, logger } = capture();
    const rejecting = Object.assign(new Error('table down'), { name: 'RestError', code: 'ServiceUnavailable', statusCode: 503 });
    rejecting.stack = 'RestError: table down\n    at x (/app/node_modules/@azure/core-client/index.js:1:1)';
    expect(() => recordRefusal(depsWith(() => Promise.reject(rejecting)), ctx, { startedAt: NOW }, new NotGrantedError({ detail: 'no' }), logger)).not.toThrow();
    expect(() => recordRefusal(depsWith(() => {
      throw new RangeError('sync');
    }), ctx, { startedAt: NOW }, new NotGrantedError({ detail: 'no' }), logger)).not.toThrow();
    expect(() => recordRefusal(depsWith(() => {
      throw 'a string'; // eslint-disable-line @typescript-eslint/only-throw-error -- a sink throwing a non-error is the case under test
    }), ctx, { startedAt: NOW }, new NotGrantedError({ detail: 'no' }), logger)).not.toThrow();
    await vi.waitFor(() => expect(logs).toHaveLength(3));
    expect(logs.map(([level, message]) => [level, message])).toEqual(Array(3).fill(['warn', 'audit record of a refusal could not be written']));
    expect(logs[0]?.[2]).toEqual({ request_id: 'req-1', error: { name: 'RestError', code: 'ServiceUnavailable', statusCode: 503 } });
    expect(logs[1]?.[2]).toMatchObject({ error: { name: 'RangeError', message: 'sync' } });
    expect(logs[2]?.[2]).toMatchObject({ error: { name: 'Error', message: 'audit sink threw a non-error' } });
  });
});
