import { HttpRequest, InvocationContext } from '@azure/functions';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import { rehearsalTransports } from '../../src/core/azure';
import { REHEARSAL_WORKSPACE, prepareRehearsal } from '../../src/core/vend/rehearsal';
import { rehearseVend } from '../../src/functions/rehearse';
import { makeRoutes } from '../../src/functions/routes';
import { TENANT, vendConfig } from '../support/vend-config';

// The cold-start rehearsal: one synthetic vend through the token route's handler at start. It
// must run the whole issuing path (a 200 with a token, one audit row in its own sink) and touch
// nothing of the service it rehearses for: no dependency of the real deps is called.

const GRANT = { workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600 };

/** Real deps whose every outward dependency counts its calls and refuses. */
function serviceDeps() {
  const calls: string[] = [];
  const refuse = (what: string) => () => {
    calls.push(what);
    return Promise.reject(new Error(`${what} must not be called by a rehearsal`));
  };
  const telemetry: Telemetry = new Proxy(NO_TELEMETRY, {
    get: (target, prop, receiver) => (prop === 'enabled' ? false : (...args: unknown[]) => (calls.push(`telemetry.${String(prop)}`), (Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown)(...args))),
  });
  const config = vendConfig({ prod: 'https://adb-1.azuredatabricks.net' }, [GRANT]);
  const limiter = new RateLimiter(config.perCallerPerMinute, { now: () => Date.now() });
  const health = new HealthTracker();
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: refuse('verifyCaller'),
    limiter,
    minter: { getToken: refuse('minter') },
    audit: { record: refuse('audit') },
    auditKey: { current: refuse('auditKey'), problem: () => (calls.push('auditKey.problem'), undefined) },
    clock: { now: () => Date.now() },
    health,
    pats: { create: refuse('pats.create'), revoke: refuse('pats.revoke'), list: refuse('pats.list') },
    oauth: { exchange: refuse('oauth') },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
    telemetry,
  };
  return { deps, calls, limiter, health };
}

describe('the cold-start rehearsal', () => {
  it('issues through the token route on its own stand-ins, and calls nothing of the service', async () => {
    const { deps, calls, health } = serviceDeps();
    const before = JSON.stringify(health.snapshot('test'));
    expect(await rehearseVend(deps)).toBe(200);
    expect(calls).toEqual([]);
    expect(JSON.stringify(health.snapshot('test'))).toBe(before);
  });

  it('runs the whole issuing path: caller check, grant, mint, one audit row, the token in the answer', async () => {
    const { deps } = serviceDeps();
    const rehearsal = await prepareRehearsal(deps);
    const lines: string[] = [];
    const token = makeRoutes(rehearsal.deps).find((r) => r.name === 'token');
    const request = () =>
      new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { authorization: rehearsal.authorization, 'content-type': 'application/json' }, body: { string: rehearsal.body } });
    const context = new InvocationContext({ functionName: 'token', logHandler: (level, ...args) => void lines.push(`${level} ${args.join(' ')}`) });
    const res = await token?.handler(request(), context);
    expect(res?.status).toBe(200);
    const body = JSON.parse(typeof res?.body === 'string' ? res.body : '{}') as Record<string, unknown>;
    expect((body.workspace as { name?: string }).name).toBe(REHEARSAL_WORKSPACE);
    expect(decodeJwt(String(body.access_token)).aud).toBe(deps.config.databricksScope);
    expect(rehearsal.auditedRows()).toBe(1);
    expect(lines.join('\n')).toMatch(/^information token: 200 .*"workspace":"rehearsal","mode":"aad"/);
    // Its caller is one the service's own verifier never saw: a token signed with the rehearsal's key, for the configured audience and tenant.
    const caller = decodeJwt(rehearsal.authorization.slice('Bearer '.length));
    expect(decodeProtectedHeader(rehearsal.authorization.slice('Bearer '.length)).alg).toBe('RS256');
    expect(caller.aud).toBe('api://dbx-token-vending');
    expect(caller.tid).toBe(TENANT);
    // Its workspace exists only in its own configuration.
    expect(deps.config.workspaces.has(REHEARSAL_WORKSPACE)).toBe(false);
    expect(rehearsal.deps.config.workspaces.has('prod')).toBe(false);
  });

  it('with the SDK transports, the SP credential (MSAL) and the audit batch run through the Azure SDK, answered in process', async () => {
    const { deps, calls } = serviceDeps();
    const transports = rehearsalTransports(deps.config, deps.clock);
    expect(await rehearseVend(deps, transports)).toBe(200);
    expect(calls).toEqual([]);
    expect(transports.requests).toEqual(expect.arrayContaining([`POST /${TENANT}/oauth2/v2.0/token`, 'POST /Tables', 'POST /$batch']));
    expect(transports.requests.filter((r) => r === 'POST /$batch')).toHaveLength(1);
    // The service's own credential factory built the credential: a second rehearsal on the same transports asks for its own token.
    expect(await rehearseVend(deps, transports)).toBe(200);
    expect(transports.requests.filter((r) => r.endsWith('/oauth2/v2.0/token'))).toHaveLength(2);
  });

  it('a rehearsal whose audit batch fails answers no token, as the service would', async () => {
    const { deps } = serviceDeps();
    const failing = { batchWriter: { insertBatch: () => Promise.reject(new Error('store down')) } };
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    try {
      expect(await rehearseVend(deps, failing)).toBe(503);
      await new Promise((r) => setTimeout(r, 20));
      // Not even its own failure is logged: the service's log speaks of the service only.
      expect(warn).not.toHaveBeenCalled();
      expect(error).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it('trusts only its own signing key: a token it did not sign is refused', async () => {
    const { deps } = serviceDeps();
    const a = await prepareRehearsal(deps);
    const b = await prepareRehearsal(deps);
    await expect(a.deps.verifyCaller(b.authorization)).rejects.toThrow(/signature|key/i);
    await expect(a.deps.verifyCaller(a.authorization)).resolves.toMatchObject({ tenantId: TENANT });
  });

  it('never rejects: a rehearsal that cannot run answers undefined', async () => {
    const { deps } = serviceDeps();
    const broken = { ...deps, config: { ...deps.config, audiences: [] } };
    expect(await rehearseVend(broken)).not.toBe(200);
    const throwing = { ...deps, get config(): never {
      throw new Error('no config');
    } };
    expect(await rehearseVend(throwing)).toBeUndefined();
  });
});
