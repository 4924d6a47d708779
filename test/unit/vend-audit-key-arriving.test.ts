import { HttpRequest, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit';
import { AuditUnavailableError, UpstreamUnavailableError } from '../../src/core/errors';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import type { AuditKeySource } from '../../src/core/secrets';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';
import { TENANT, vendConfig } from '../support/vend-config';

// At start the audit key may still be on its way from Key Vault. An `aad` vend mints meanwhile
// (the SP's secret and token leave nothing behind) and uses the token only once the key is in
// hand; a `pat` vend creates nothing until then; a key that does not come still means 503 and no
// token.

const MINTED = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ uti: 'uti-1', exp: 2_000_000_000 })).toString('base64url')}.c2ln`;
const PAT = 'dapi0123456789abcdef0123456789abcdef';
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, [{ workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['aad', 'pat'], maxLifetimeSeconds: 3600, managementToken: true }]);
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-1', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A key whose read is under way until the test says how it ends. */
function arrivingKey() {
  let give: (key: Buffer) => void = () => undefined;
  let refuse: (err: unknown) => void = () => undefined;
  const read = new Promise<Buffer>((res, rej) => ((give = res), (refuse = rej)));
  let arriving = true;
  const source: AuditKeySource = { current: () => read, problem: () => (arriving ? 'audit key: not read yet' : undefined), arriving: () => arriving };
  return {
    source,
    give: () => ((arriving = false), give(Buffer.alloc(32, 7))),
    refuse: () => ((arriving = false), refuse(new AuditUnavailableError(new Error('not in the vault'), 5))),
  };
}

function world(auditKey: AuditKeySource, minter: VendDeps['minter'] = { getToken: () => Promise.resolve({ token: MINTED, expiresOnMs: 2_000_000_000_000 }) }) {
  const calls: string[] = [];
  const rows: AuditRecord[] = [];
  const logs: string[] = [];
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: () => Promise.resolve(caller),
    limiter: new RateLimiter(100, { now: () => 1_000 }),
    minter: { getToken: (...args) => (calls.push('getToken'), minter.getToken(...args)) },
    audit: { record: (r) => (rows.push(r), Promise.resolve()) },
    auditKey,
    clock: { now: () => 1_764_000_000_000 },
    health: new HealthTracker(),
    pats: {
      create: () => (calls.push('pats.create'), Promise.resolve({ token: PAT, tokenId: 'pat-1', expiresOnMs: 1_764_003_600_000 })),
      revoke: () => Promise.resolve(),
      list: () => (calls.push('pats.list'), Promise.resolve([])),
    },
    oauth: { exchange: () => Promise.reject(new Error('unused')) },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
  };
  const token = makeRoutes(deps).find((r) => r.name === 'token');
  const post = async (body: unknown) => {
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { 'content-type': 'application/json', authorization: 'Bearer good' }, body: { string: JSON.stringify(body) } });
    const res = await token!.handler(request, new InvocationContext({ functionName: 'token', logHandler: (_l, ...a) => void logs.push(a.join(' ')) }));
    return { status: res.status, text: typeof res.body === 'string' ? res.body : '' };
  };
  return { calls, rows, logs, post };
}

describe('a vend while the audit key is arriving', () => {
  it('aad: mints beside the key read, and answers once the key is in hand', async () => {
    const key = arrivingKey();
    const { calls, rows, post } = world(key.source);
    const answer = post({ workspace: 'prod', management_token: true });
    await tick();
    expect(calls).toEqual(['getToken', 'getToken']);
    expect(rows).toEqual([]);
    key.give();
    const res = await answer;
    expect(res.status).toBe(200);
    expect((JSON.parse(res.text) as { access_token: string }).access_token).toBe(MINTED);
    expect(rows.map((r) => r.outcome)).toEqual(['issued']);
    expect(calls).toEqual(['getToken', 'getToken']);
  });

  it('aad: a key that does not come means 503 audit_unavailable and no token, though one was minted', async () => {
    const key = arrivingKey();
    const { calls, rows, logs, post } = world(key.source);
    const answer = post({ workspace: 'prod' });
    await tick();
    expect(calls).toEqual(['getToken']);
    key.refuse();
    const res = await answer;
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'audit_unavailable' });
    expect(res.text + logs.join('\n') + JSON.stringify(rows)).not.toContain(MINTED.split('.')[1]);
    expect(rows.map((r) => r.outcome)).not.toContain('issued');
  });

  it('aad: when the mint fails too, the missing key is what the caller hears, and nothing is left unhandled', async () => {
    const key = arrivingKey();
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { post } = world(key.source, { getToken: () => Promise.reject(new UpstreamUnavailableError('Entra ID did not answer.')) });
      const answer = post({ workspace: 'prod' });
      await tick();
      key.refuse();
      const res = await answer;
      expect(JSON.parse(res.text)).toMatchObject({ status: 503, code: 'audit_unavailable' });
      await tick();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('aad: with the key in hand, a failed mint is the answer', async () => {
    const key = arrivingKey();
    const { post } = world(key.source, { getToken: () => Promise.reject(new UpstreamUnavailableError('Entra ID did not answer.')) });
    const answer = post({ workspace: 'prod' });
    await tick();
    key.give();
    expect(JSON.parse((await answer).text)).toMatchObject({ status: 503, code: 'upstream_unavailable' });
  });

  it('pat: nothing is minted or created before the key is in hand', async () => {
    const key = arrivingKey();
    const { calls, rows, post } = world(key.source);
    const answer = post({ workspace: 'prod', mode: 'pat', lifetime_seconds: 600 });
    await tick();
    await tick();
    expect(calls).toEqual([]);
    key.give();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(calls).toEqual(['getToken', 'pats.list', 'pats.create']);
    expect(rows.map((r) => r.outcome)).toEqual(['issued']);
  });

  it('aad with a key known to be missing (not arriving): nothing is minted', async () => {
    const missing: AuditKeySource = { current: () => Promise.reject(new AuditUnavailableError(new Error('no key'), 5)), problem: () => 'audit key: missing', arriving: () => false };
    const { calls, post } = world(missing);
    expect((await post({ workspace: 'prod' })).status).toBe(503);
    expect(calls).toEqual([]);
  });
});
