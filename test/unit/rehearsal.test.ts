import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { rehearsalTransports } from '../../src/core/azure';
import { loadConfig } from '../../src/core/config';
import { KeyedTokenCache } from '../../src/core/mint';
import { compileGrants, RateLimiter } from '../../src/core/policy';
import type { Clock } from '../../src/core/policy';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';
import { HealthTracker } from '../../src/core/vend';
import type { VendDeps } from '../../src/core/vend';
import { prepareRehearsal } from '../../src/core/vend/rehearsal';
import { rehearseVend } from '../../src/functions/rehearse';
import { makeRoutes } from '../../src/functions/routes';
import { TENANT, vendConfig } from '../support/vend-config';

// The cold-start rehearsal: one synthetic vend through the token route's handler at start, on the
// Azure SDK's clients with an in-process transport. It must run the whole issuing path (a 200 with
// a token, its SP token asked of "Entra ID", one audit batch) and touch nothing of the service it
// rehearses for: no dependency of the real deps is called.

const GRANT = { workspace: 'prod', callers: { roles: ['Vend.Prod'], appIds: [], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600 };
const PARTNER = '99999999-8888-7777-6666-555555555555';
/** The service's clock (MSAL keeps the machine's: in the service both are the same). */
const clock: Clock = { now: () => Date.now() };
const seconds = (): number => Math.floor(Date.now() / 1000);

/** Real deps whose every outward dependency counts its calls and refuses. */
function serviceDeps(config = vendConfig({ prod: 'https://adb-1.azuredatabricks.net' }, [GRANT])) {
  const calls: string[] = [];
  const refuse = (what: string) => () => {
    calls.push(what);
    return Promise.reject(new Error(`${what} must not be called by a rehearsal`));
  };
  const telemetry: Telemetry = new Proxy(NO_TELEMETRY, {
    get: (target, prop, receiver) => (prop === 'enabled' ? false : (...args: unknown[]) => (calls.push(`telemetry.${String(prop)}`), (Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown)(...args))),
  });
  const health = new HealthTracker();
  const deps: VendDeps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    verifyCaller: refuse('verifyCaller'),
    limiter: new RateLimiter(config.perCallerPerMinute, clock),
    minter: { getToken: refuse('minter') },
    audit: { record: refuse('audit') },
    auditKey: { current: refuse('auditKey'), problem: () => (calls.push('auditKey.problem'), undefined) },
    clock,
    health,
    pats: { create: refuse('pats.create'), revoke: refuse('pats.revoke'), list: refuse('pats.list') },
    oauth: { exchange: refuse('oauth') },
    oauthTokens: new KeyedTokenCache(),
    version: 'test',
    telemetry,
  };
  return { deps, calls, health };
}

/** A config on an authority MSAL carries no metadata for (Azure Stack Hub, a sandbox), with a second allowed tenant listed first. */
function customAuthorityConfig() {
  const base = vendConfig({ prod: 'https://adb-1.azuredatabricks.net' }, [GRANT]);
  return loadConfig({
    VENDING_CONFIG: JSON.stringify({
      cloud: 'AzurePublic', tenantId: TENANT,
      callers: { audiences: ['api://other', 'api://dbx-token-vending'], allowedTenants: [PARTNER, TENANT] },
      keyVaultUrl: base.keyVaultUrl,
      servicePrincipals: { 'etl-sp': { clientId: '22222222-3333-4444-5555-666666666666', secret: 'etl-sp-secret' } },
      workspaces: { prod: { host: 'https://adb-1.azuredatabricks.net', resourceId: base.workspaces.get('prod')?.resourceId, servicePrincipal: 'etl-sp' } },
      grants: [GRANT],
    }),
    AZURE_AUTHORITY_HOST: 'https://login.stack.example',
    AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
    AUDIT_HMAC_KEY: Buffer.alloc(32, 3).toString('base64'),
  });
}

async function rehearseThroughHandler(deps: VendDeps, transports = rehearsalTransports(deps.config, deps.clock)) {
  const rehearsal = await prepareRehearsal(deps, transports);
  const lines: string[] = [];
  const token = makeRoutes(rehearsal.deps).find((r) => r.name === 'token');
  const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/token', headers: { authorization: rehearsal.authorization, 'content-type': 'application/json' }, body: { string: rehearsal.body } });
  const context = new InvocationContext({ functionName: 'token', logHandler: (level, ...args) => void lines.push(`${level} ${args.join(' ')}`) });
  const res = await token?.handler(request, context);
  const body = JSON.parse(typeof res?.body === 'string' ? res.body : '{}') as Record<string, unknown>;
  return { rehearsal, transports, status: res?.status, body, lines };
}

describe('the cold-start rehearsal', () => {
  it('issues through the token route, the SP token and the audit batch through the Azure SDK, and calls nothing of the service', async () => {
    const { deps, calls, health } = serviceDeps();
    const before = JSON.stringify(health.snapshot('test'));
    const transports = rehearsalTransports(deps.config, deps.clock);
    expect(await rehearseVend(deps, transports)).toBe(200);
    expect(calls).toEqual([]);
    expect(JSON.stringify(health.snapshot('test'))).toBe(before);
    // Microsoft's own authority: MSAL carries its metadata and asks for the token only.
    expect(transports.requests).toEqual([`POST /${TENANT}/oauth2/v2.0/token`, 'POST /Tables', 'POST /$batch']);
  });

  it('runs the whole issuing path: caller check, grant, mint, one audit row, the token in the answer', async () => {
    const { deps } = serviceDeps();
    const { rehearsal, status, body, lines } = await rehearseThroughHandler(deps);
    expect(status).toBe(200);
    const workspace = body.workspace as { name?: string; host?: string; resource_id?: string };
    expect(workspace.name).toBe('rehearsal');
    // Its workspace can never be reached (RFC 2606), and exists only in its own configuration.
    expect(new URL(String(workspace.host)).hostname).toMatch(/\.invalid$/);
    expect(workspace.resource_id).toMatch(/\/providers\/Microsoft\.Databricks\/workspaces\/rehearsal$/);
    expect(deps.config.workspaces.has('rehearsal')).toBe(false);
    expect(rehearsal.deps.config.workspaces.has('prod')).toBe(false);
    // The token its "Entra ID" issued for the SP: an hour, as Entra ID gives.
    const issued = decodeJwt(String(body.access_token));
    expect(issued.aud).toBe(deps.config.databricksScope);
    expect(Number(issued.exp) - seconds()).toBeGreaterThan(3590);
    expect(Number(issued.exp) - seconds()).toBeLessThanOrEqual(3600);
    expect(rehearsal.auditedRows()).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^information token: 200 .*"workspace":"rehearsal","mode":"aad"/)]);
  });

  it('signs its caller with its own key, for the configured audiences, the first allowed tenant, for 10 minutes', async () => {
    const { deps } = serviceDeps(customAuthorityConfig());
    const { status, rehearsal } = await rehearseThroughHandler(deps);
    expect(status).toBe(200);
    const jwt = rehearsal.authorization.slice('Bearer '.length);
    expect(decodeProtectedHeader(jwt).alg).toBe('RS256');
    const caller = decodeJwt(jwt);
    expect(caller.aud).toEqual(['api://other', 'api://dbx-token-vending']);
    expect(caller.tid).toBe(PARTNER);
    expect(caller.iss).toBe(`https://login.stack.example/${PARTNER}/v2.0`);
    expect(Math.abs(Number(caller.iat) - seconds())).toBeLessThanOrEqual(2);
    expect(Number(caller.exp) - Number(caller.iat)).toBe(600);
  });

  it('on an authority MSAL has no metadata for, the rehearsal answers its discovery too, once per credential set', async () => {
    const { deps, calls } = serviceDeps(customAuthorityConfig());
    const transports = rehearsalTransports(deps.config, deps.clock);
    expect(await rehearseVend(deps, transports)).toBe(200);
    expect(calls).toEqual([]);
    expect(transports.requests).toEqual([`GET /${TENANT}/v2.0/.well-known/openid-configuration`, `POST /${TENANT}/oauth2/v2.0/token`, 'POST /Tables', 'POST /$batch']);
    // A second rehearsal on the same transports: its own credential asks for its own token; discovery and the table are not repeated.
    expect(await rehearseVend(deps, transports)).toBe(200);
    expect(transports.requests.slice(4)).toEqual([`POST /${TENANT}/oauth2/v2.0/token`, 'POST /$batch']);
  });

  it('its credentials have no app identity: a federated SP cannot be rehearsed', async () => {
    const { deps } = serviceDeps();
    const { createCredential, requests } = rehearsalTransports(deps.config, deps.clock);
    const federated = createCredential({ name: 'f', clientId: '44444444-5555-6666-7777-888888888888', credential: { kind: 'federated' }, federationScope: deps.config.databricksScope }, undefined);
    await expect(federated.getToken(deps.config.databricksScope)).rejects.toThrow(/the rehearsal has no app identity/);
    expect(requests.filter((r) => r.includes('/token'))).toEqual([]);
  });

  it('its transport answers as Entra ID and Table storage would, and anything else 404', async () => {
    const { deps } = serviceDeps(customAuthorityConfig());
    const { httpClient, requests } = rehearsalTransports(deps.config, deps.clock);
    const send = async (method: 'GET' | 'POST', url: string, body?: string) => {
      const res = await httpClient.sendRequest(createPipelineRequest({ url, method, ...(body === undefined ? {} : { body }) }));
      return { status: res.status, type: res.headers.get('content-type'), text: res.bodyAsText };
    };
    const base = `https://login.stack.example/${TENANT}`;
    const discovery = await send('GET', `${base}/v2.0/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(JSON.parse(String(discovery.text))).toEqual({
      issuer: `${base}/v2.0`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`, token_endpoint: `${base}/oauth2/v2.0/token`, jwks_uri: `${base}/discovery/v2.0/keys`,
    });
    const token = await send('POST', `${base}/oauth2/v2.0/token`, 'grant_type=client_credentials');
    const tokenBody = JSON.parse(String(token.text)) as { token_type: string; expires_in: number; access_token: string };
    expect(tokenBody).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(decodeJwt(tokenBody.access_token)).toEqual({ aud: deps.config.databricksScope, exp: seconds() + 3600 });
    expect(await send('POST', 'https://rehearsal.invalid/Tables', '{}')).toEqual({ status: 204, type: undefined, text: '' });
    const batch = await send('POST', 'https://rehearsal.invalid/$batch', '--batch_x');
    expect(batch.status).toBe(202);
    expect(batch.type).toBe('multipart/mixed; boundary=batchresponse_r');
    expect(String(batch.text).split('--changesetresponse_r')).toHaveLength(3);
    expect(batch.text).toMatch(/^--batchresponse_r\r\n[^]*HTTP\/1\.1 204 No Content[^]*--batchresponse_r--\r\n$/);
    const elsewhere = [
      ['POST', `${base}/v2.0/.well-known/openid-configuration`], ['GET', `${base}/oauth2/v2.0/token`], ['GET', 'https://rehearsal.invalid/Tables'],
      ['GET', 'https://rehearsal.invalid/$batch'], ['POST', 'https://rehearsal.invalid/other'], ['POST', 'https://rehearsal.invalid/x/Tables'],
    ] as const;
    for (const [method, url] of elsewhere) expect(await send(method, url, method === 'POST' ? '{}' : undefined)).toEqual({ status: 404, type: undefined, text: '' });
    expect(requests.slice(0, 4)).toEqual([`GET /${TENANT}/v2.0/.well-known/openid-configuration`, `POST /${TENANT}/oauth2/v2.0/token`, 'POST /Tables', 'POST /$batch']);
    expect(requests.slice(4)).toEqual(elsewhere.map(([method, url]) => `${method} ${new URL(url).pathname}`));
  });

  it('a rehearsal whose audit batch fails answers no token, as the service would, and logs nothing', async () => {
    const { deps } = serviceDeps();
    const transports = { ...rehearsalTransports(deps.config, deps.clock), batchWriter: { insertBatch: () => Promise.reject(new Error('store down')) } };
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    try {
      expect(await rehearseVend(deps, transports)).toBe(503);
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
    const transports = rehearsalTransports(deps.config, deps.clock);
    const a = await prepareRehearsal(deps, transports);
    const b = await prepareRehearsal(deps, transports);
    await expect(a.deps.verifyCaller(b.authorization)).rejects.toThrow(/signature|key/i);
    await expect(a.deps.verifyCaller(a.authorization)).resolves.toMatchObject({ tenantId: TENANT });
  });

  it('never rejects: a rehearsal that cannot run answers undefined', async () => {
    const { deps } = serviceDeps();
    const transports = rehearsalTransports(deps.config, deps.clock);
    const throwing = { ...deps, get config(): never {
      throw new Error('no config');
    } };
    expect(await rehearseVend(throwing, transports)).toBeUndefined();
  });
});
