import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { NotGrantedError, UpstreamUnavailableError } from '../../src/core/errors';
import type { CoreResponse, Logger } from '../../src/core/http';
import { jsonResponse } from '../../src/core/http';
import type { DatabricksTokenExchanger, OnBehalfOfMinter } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { FixedAuditKey } from '../../src/core/secrets';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { RequestFacts, Telemetry } from '../../src/core/telemetry';
import { issueToken, runDecision } from '../../src/core/vend';
import type { Decision, RequestContext, VendDeps } from '../../src/core/vend';
import { requestFacts } from '../../src/core/vend/run-decision';
import { tracedExchanger, tracedFetch, tracedOnBehalfOf, tracedPats } from '../../src/core/vend/with-telemetry';
import { TENANT, vendConfig } from '../support/vend-config';

// What the vend path tells telemetry: one span per upstream call of the plain-function upstreams,
// and per request the facts (route, status, code, outcome, configured workspace, mode, caller ids).

const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, []);
const ws = config.workspaces.get('prod')!;
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-a', appId: 'app-a', roles: [], kind: 'user', name: 'u' };

function recording(enabled = true) {
  const spans: string[] = [];
  const requests: [string, string | undefined][] = [];
  const facts: RequestFacts[] = [];
  const telemetry: Telemetry = {
    ...NO_TELEMETRY,
    enabled,
    request: (route, parent, run) => (requests.push([route, parent]), run((f) => facts.push(f))),
    dependency: (dependency, operation, run) => (spans.push(`${dependency} ${operation}`), run()),
  };
  return { telemetry, spans, requests, facts };
}

describe('spans around the plain-function upstreams', () => {
  it('with telemetry off the upstreams are used as they are', () => {
    const pats = { create: () => Promise.reject(new Error('x')), list: () => Promise.resolve([]), revoke: () => Promise.resolve() };
    const exchanger: DatabricksTokenExchanger = { exchange: () => Promise.reject(new Error('x')) };
    const obo: OnBehalfOfMinter = { getUserToken: () => Promise.reject(new Error('x')) };
    expect(tracedPats(pats, NO_TELEMETRY)).toBe(pats);
    expect(tracedExchanger(exchanger, NO_TELEMETRY)).toBe(exchanger);
    expect(tracedOnBehalfOf(obo, NO_TELEMETRY)).toBe(obo);
    expect(tracedFetch(NO_TELEMETRY)).toBeUndefined();
  });

  it('with telemetry on each call is one named span, with arguments and answers passed through', async () => {
    const { telemetry, spans } = recording();
    const seen: unknown[][] = [];
    const pats = tracedPats({
      create: (...a) => (seen.push(a), Promise.resolve({ token: 'dapi', tokenId: 't', expiresOnMs: 1 })),
      list: (...a) => (seen.push(a), Promise.resolve([{ tokenId: 't', comment: 'c', expiresOnMs: 1 }])),
      revoke: (...a) => (seen.push(a), Promise.resolve()),
    }, telemetry);
    expect(await pats.create(ws, 'sp', 60, 'c', ['sql'])).toEqual({ token: 'dapi', tokenId: 't', expiresOnMs: 1 });
    expect(await pats.list(ws, 'sp')).toEqual([{ tokenId: 't', comment: 'c', expiresOnMs: 1 }]);
    await pats.revoke(ws, 'sp', 't', 'mark');
    const exchanged = await tracedExchanger({ exchange: (...a) => (seen.push(a), Promise.resolve({ token: 'o', expiresOnMs: 2, scopes: ['sql'] })) }, telemetry).exchange(ws, 'subject', ['sql']);
    expect(exchanged).toEqual({ token: 'o', expiresOnMs: 2, scopes: ['sql'] });
    const user = await tracedOnBehalfOf({ getUserToken: (...a) => (seen.push(a), Promise.resolve({ token: 'u', expiresOnMs: 3 })) }, telemetry).getUserToken(caller, 'assertion', 'scope', 60);
    expect(user).toEqual({ token: 'u', expiresOnMs: 3 });
    const fetched = tracedFetch(telemetry);
    expect(await (await fetched!('data:text/plain,keys')).text()).toBe('keys');
    expect(spans).toEqual(['databricks create token', 'databricks list tokens', 'databricks revoke token', 'databricks token exchange', 'entra on-behalf-of', 'entra signing keys']);
    expect(seen).toEqual([[ws, 'sp', 60, 'c', ['sql']], [ws, 'sp'], [ws, 'sp', 't', 'mark'], [ws, 'subject', ['sql']], [caller, 'assertion', 'scope', 60]]);
  });
});

describe('runDecision reports each request once, with identifiers only', () => {
  let now = 1_000;
  const logs: [string, string, Record<string, unknown> | undefined][] = [];
  const logger: Logger = {
    info: (m, f) => void logs.push(['info', m, f]),
    warn: (m, f) => void logs.push(['warn', m, f]),
    error: (m, f) => void logs.push(['error', m, f]),
  };
  const rows: AuditRecord[] = [];
  const deps = (telemetry: Telemetry | undefined) =>
    ({ config, clock: { now: () => now }, telemetry, audit: { record: (r: AuditRecord) => (rows.push(r), Promise.resolve()) } }) as unknown as VendDeps;
  const ctx: RequestContext = { requestId: 'req-1', authorization: null, sourceIp: undefined, userAgent: undefined, traceParent: '00-abc-def-01' };
  const run = (fill: Partial<Decision>, answer: () => CoreResponse) => (d: Decision): Promise<CoreResponse> => {
    Object.assign(d, fill);
    now += 7;
    return Promise.resolve(answer());
  };

  it('an issued token: status 200, code and outcome issued, with the decision\'s configured workspace and mode', async () => {
    const t = recording();
    const res = await runDecision(deps(t.telemetry), ctx, logger, 'token', run({ caller, workspace: 'prod', mode: 'pat' }, () => jsonResponse(200, {}, 'req-1')));
    expect(res.status).toBe(200);
    expect(t.requests).toEqual([['token', '00-abc-def-01']]);
    expect(t.facts).toEqual([{ route: 'token', status: 200, code: 'issued', outcome: 'issued', durationMs: 7, workspace: 'prod', mode: 'pat', callerTenantId: TENANT, callerObjectId: 'oid-a', callerAppId: 'app-a', requestId: 'req-1' }]);
    expect(logs.at(-1)).toEqual(['info', 'token: 200', { request_id: 'req-1', caller_tid: TENANT, caller_oid: 'oid-a', caller_appid: 'app-a', workspace: 'prod', mode: 'pat', latency_ms: 7 }]);
  });

  it('another route\'s success is `ok`; a 200 of the token route only is `issued`', async () => {
    const t = recording();
    await runDecision(deps(t.telemetry), ctx, logger, 'workspaces', run({}, () => jsonResponse(200, [], 'req-1')));
    await runDecision(deps(t.telemetry), ctx, logger, 'token', run({}, () => ({ status: 204, headers: {} })));
    expect(t.facts.map((f) => [f.route, f.code, f.outcome])).toEqual([['workspaces', 'ok', 'ok'], ['token', 'ok', 'ok']]);
  });

  it('a refusal is denied and a failure failed, each with its code; the failure is logged as an error with the sanitized cause', async () => {
    const t = recording();
    const refused = await runDecision(deps(t.telemetry), ctx, logger, 'token', run({ workspace: 'prod' }, () => {
      throw new NotGrantedError({ detail: 'no' });
    }));
    expect(refused.status).toBe(403);
    expect(logs.at(-1)).toEqual(['info', 'token: 403', expect.objectContaining({ status: 403, code: 'not_granted', latency_ms: 7, workspace: 'prod' })]);
    const failed = await runDecision(deps(t.telemetry), ctx, logger, 'token', run({}, () => {
      throw new UpstreamUnavailableError('down');
    }));
    expect(failed.status).toBe(503);
    expect(logs.at(-1)).toEqual(['error', 'token: 503', expect.objectContaining({ status: 503, code: 'upstream_unavailable', error: { name: 'UpstreamUnavailableError', code: 'upstream_unavailable', message: 'down' } })]);
    const bug = await runDecision(deps(t.telemetry), ctx, logger, 'revoke', run({}, () => {
      throw new TypeError('bug');
    }));
    expect(bug.status).toBe(500);
    expect(t.facts.map((f) => [f.status, f.code, f.outcome, f.durationMs])).toEqual([[403, 'not_granted', 'denied', 7], [503, 'upstream_unavailable', 'failed', 7], [500, 'internal_error', 'failed', 7]]);
    expect(rows.slice(-3).map((r) => [r.outcome, r.code])).toEqual([['denied', 'not_granted'], ['failed', 'upstream_unavailable'], ['failed', 'internal_error']]);
  });

  it('with telemetry off (or none given) no facts are reported, and the request still runs', async () => {
    const off = recording(false);
    expect((await runDecision(deps(off.telemetry), ctx, logger, 'token', run({}, () => jsonResponse(200, {}, 'r')))).status).toBe(200);
    expect(off.facts).toEqual([]);
    expect((await runDecision(deps(undefined), ctx, logger, 'token', run({}, () => jsonResponse(200, {}, 'r')))).status).toBe(200);
  });

  it('a workspace name the config does not know, or a mode that is not one, never becomes a label', () => {
    const how = { status: 403, code: 'not_granted', outcome: 'denied' as const, durationMs: 1 };
    expect(requestFacts(deps(undefined), ctx, { workspace: 'evil\u202e', mode: 'root' }, 'token', how)).toMatchObject({ workspace: '(unknown)', mode: undefined });
    for (const mode of ['aad', 'pat', 'oauth', 'user']) {
      expect(requestFacts(deps(undefined), ctx, { workspace: 'prod', mode }, 'token', how)).toMatchObject({ workspace: 'prod', mode });
    }
    expect(requestFacts(deps(undefined), ctx, { workspace: 'prod', mode: '' }, 'token', how)).toMatchObject({ mode: undefined });
    const none = requestFacts(deps(undefined), ctx, {}, 'token', how);
    expect(none).toMatchObject({ workspace: undefined, mode: undefined, callerTenantId: undefined, requestId: 'req-1', route: 'token', status: 403 });
  });
});

describe('a vend\'s stages (README: the request span\'s children)', () => {
  it('caller, grant, mint and audit, in that order, each once', async () => {
    const stages: string[] = [];
    const telemetry: Telemetry = { ...NO_TELEMETRY, enabled: true, stage: (name, run) => (stages.push(name), run()) };
    const cfg = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, [{ workspace: 'prod', callers: { roles: ['R'] }, modes: ['aad'], maxLifetimeSeconds: 900 }]);
    const token = `eyJhbGciOiJub25lIn0.${Buffer.from('{"uti":"u"}').toString('base64url')}.`;
    const deps = {
      config: cfg, grants: compileGrants(cfg.grants, cfg.tenantId), telemetry, clock: { now: () => 1_000 },
      verifyCaller: () => Promise.resolve({ ...caller, roles: ['R'] }), limiter: new RateLimiter(10),
      auditKey: new FixedAuditKey(Buffer.alloc(32, 1)), minter: { getToken: () => Promise.resolve({ token, expiresOnMs: 3_600_000 }) },
      audit: { record: () => Promise.resolve() },
    } as unknown as VendDeps;
    const ctx: RequestContext = { requestId: 'r', authorization: 'Bearer x', sourceIp: undefined, userAgent: undefined };
    const res = await issueToken(deps, ctx, { contentType: 'application/json', readBody: () => Promise.resolve('{"workspace":"prod"}') }, { startedAt: 0 });
    expect(res.status).toBe(200);
    expect(stages).toEqual(['caller', 'grant', 'mint', 'audit']);
  });
});
