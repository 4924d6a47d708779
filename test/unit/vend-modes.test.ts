import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NotGrantedError, UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { KeyedTokenCache, patComment } from '../../src/core/mint';
import type { ExchangedToken, ListedPat } from '../../src/core/mint';
import { compileGrants } from '../../src/core/policy';
import type { CallerIdentity, Entitlement } from '../../src/core/policy';
import type { VendDeps } from '../../src/core/vend';
import { MODES } from '../../src/core/vend/modes';
import type { ModeInput } from '../../src/core/vend/modes';
import { mintedTokenId, tokenIdOf } from '../../src/core/vend/modes/token-id';
import { tokenRequestSchema } from '../../src/core/vend/request-schema';
import { RESOURCE, TENANT, vendConfig } from '../support/vend-config';

// Each mode's strategy on its own: what it refuses, which upstream it asks for what, and what it
// hands back to the protocol (token, id, expiry, headers, fields). The upstreams are recording fakes.

const NOW = 1_764_000_000_000;
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, [
  { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['pat', 'aad'], maxLifetimeSeconds: 3600, maxLivePats: 1 },
]);
const ws = config.workspaces.get('prod')!;
const app: CallerIdentity = { tenantId: TENANT, objectId: 'oid-app', appId: 'app-1', roles: ['Vend.Prod'], kind: 'app', name: undefined };
const user: CallerIdentity = { tenantId: TENANT, objectId: 'oid-user', appId: 'app-1', roles: ['Vend.Prod'], kind: 'user', name: 'u@example.test' };

const jwt = (claims: Record<string, unknown>): string => `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const request = (body: Record<string, unknown>) => tokenRequestSchema.parse({ workspace: 'prod', ...body });
const entitlement = (over: Partial<Entitlement> = {}): Entitlement => ({
  workspace: 'prod', modes: new Set(['aad', 'pat', 'oauth', 'user']), maxLifetimeSeconds: 3600, managementToken: true, scopes: [], defaultScopes: [], grantIds: ['0'], ...over,
});

function fakes(over: Partial<VendDeps> = {}) {
  const calls: { getToken: [string, string, number][]; exchange: [string, string, string[]][]; obo: [string, string, string, number][]; create: unknown[][]; revoke: unknown[][] } = {
    getToken: [], exchange: [], obo: [], create: [], revoke: [],
  };
  const listed: ListedPat[] = [];
  const deps = {
    config,
    grants: compileGrants(config.grants, config.tenantId),
    clock: { now: () => NOW },
    minter: {
      getToken: (sp: { name: string }, scope: string, min: number) => {
        calls.getToken.push([sp.name, scope, min]);
        return Promise.resolve({ token: jwt({ uti: `uti-${scope}`, scope }), expiresOnMs: NOW + 3_600_000 });
      },
    },
    oauth: {
      exchange: (w: { name: string }, subject: string, scopes: readonly string[]) => {
        calls.exchange.push([w.name, subject, [...scopes]]);
        return Promise.resolve<ExchangedToken>({ token: jwt({ jti: `jti-${calls.exchange.length}` }), expiresOnMs: NOW + 3_600_000, scopes: [...scopes] });
      },
    },
    oauthTokens: new KeyedTokenCache<ExchangedToken>({ now: () => NOW }),
    onBehalfOf: {
      getUserToken: (c: CallerIdentity, assertion: string, scope: string, min: number) => {
        calls.obo.push([c.objectId, assertion, scope, min]);
        return Promise.resolve({ token: jwt({ uti: 'obo-uti' }), expiresOnMs: NOW + 3_600_000 });
      },
    },
    pats: {
      create: (...args: unknown[]) => {
        calls.create.push(args);
        return Promise.resolve({ token: 'dapi0123', tokenId: 'tid-1', expiresOnMs: NOW + 600_000 });
      },
      list: () => Promise.resolve(listed),
      revoke: (...args: unknown[]) => (calls.revoke.push(args), Promise.resolve()),
    },
    ...over,
  } as unknown as VendDeps;
  return { deps, calls, listed };
}

function input(deps: VendDeps, body: Record<string, unknown>, over: Partial<ModeInput> = {}): ModeInput {
  return { deps, ctx: { requestId: 'req-1', authorization: 'Bearer caller.jwt.value', sourceIp: undefined, userAgent: undefined }, ws, request: request(body), entitlement: entitlement(), caller: app, ...over };
}

const refusal = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('mode aad', () => {
  it('refuses lifetime_seconds and scopes, each with its own reason; accepts management_token', () => {
    expect(refusal(() => MODES.aad.check(request({ lifetime_seconds: 600 }), app))).toMatchObject({ code: 'invalid_request', detail: 'lifetime_seconds applies to mode "pat" only.' });
    expect(refusal(() => MODES.aad.check(request({ scopes: ['sql'] }), app))).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining('an aad token cannot be narrowed') as string });
    expect(refusal(() => MODES.aad.check(request({ management_token: true }), app))).toBeUndefined();
  });

  it('mints the SP token for AzureDatabricks at the asked validity, names the workspace, and adds the management token only when asked', async () => {
    const { deps, calls } = fakes();
    const plain = await MODES.aad.vend(input(deps, { min_validity_seconds: 120 }));
    expect(calls.getToken).toEqual([['etl-sp', config.databricksScope, 120]]);
    expect(plain.headers).toEqual({ 'X-Databricks-Azure-Workspace-Resource-Id': RESOURCE });
    expect(plain.tokenId).toBe(`uti-${config.databricksScope}`);
    expect(plain.expiresOnMs).toBe(NOW + 3_600_000);
    expect(plain.revoke).toBeUndefined();

    calls.getToken.length = 0;
    const both = await MODES.aad.vend(input(deps, { management_token: true }));
    expect(calls.getToken).toEqual([['etl-sp', config.databricksScope, 300], ['etl-sp', config.managementScope, 300]]);
    expect(both.headers?.['X-Databricks-Azure-SP-Management-Token']).toBe(jwt({ uti: `uti-${config.managementScope}`, scope: config.managementScope }));
    expect(both.token).toBe(jwt({ uti: `uti-${config.databricksScope}`, scope: config.databricksScope }));
  });
});

describe('mode oauth', () => {
  const scoped = entitlement({ scopes: ['sql', 'clusters:read'], defaultScopes: ['sql'] });

  it('refuses lifetime_seconds and management_token', () => {
    expect(refusal(() => MODES.oauth.check(request({ lifetime_seconds: 600 }), app))).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining('lifetime_seconds applies to mode "pat" only') as string });
    expect(refusal(() => MODES.oauth.check(request({ management_token: true }), app))).toMatchObject({ code: 'invalid_request', detail: 'management_token applies to mode "aad" only.' });
    expect(refusal(() => MODES.oauth.check(request({ scopes: ['sql'] }), app))).toBeUndefined();
  });

  it('exchanges the SP federation token for the granted scopes (default when none asked) and returns them', async () => {
    const { deps, calls } = fakes();
    const sp = ws.servicePrincipal;
    const vended = await MODES.oauth.vend(input(deps, { mode: 'oauth', min_validity_seconds: 60 }, { entitlement: scoped }));
    expect(calls.getToken).toEqual([['etl-sp', sp.federationScope, 60]]);
    expect(calls.exchange).toEqual([['prod', jwt({ uti: `uti-${sp.federationScope}`, scope: sp.federationScope }), ['sql']]]);
    expect(vended).toMatchObject({ tokenId: 'jti-1', expiresOnMs: NOW + 3_600_000, scopes: ['sql'] });
    expect(vended.revoke).toBeUndefined();
    const asked = await MODES.oauth.vend(input(deps, { mode: 'oauth', scopes: ['clusters:read'] }, { entitlement: scoped }));
    expect(asked.scopes).toEqual(['clusters:read']);
  });

  it('refuses scopes beyond the grant before anything is minted', async () => {
    const { deps, calls } = fakes();
    await expect(MODES.oauth.vend(input(deps, { mode: 'oauth', scopes: ['jobs'] }, { entitlement: scoped }))).rejects.toBeInstanceOf(NotGrantedError);
    expect(calls.getToken).toEqual([]);
  });

  it('caches per caller, SP, workspace and scope set: never one caller\'s token for another', async () => {
    const { deps, calls } = fakes();
    const a1 = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: scoped }));
    const a2 = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: scoped }));
    expect(a2.token).toBe(a1.token);
    const b = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: scoped, caller: { ...app, objectId: 'oid-other' } }));
    const otherTenant = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: scoped, caller: { ...app, tenantId: 'other-tenant' } }));
    const wider = await MODES.oauth.vend(input(deps, { mode: 'oauth', scopes: ['sql', 'clusters:read'] }, { entitlement: scoped }));
    expect(new Set([a1.token, b.token, otherTenant.token, wider.token]).size).toBe(4);
    expect(calls.exchange).toHaveLength(4);
  });

  it('keeps the parts of its cache key apart: ids that run together, or scope lists that do, are different keys', async () => {
    const { deps, calls } = fakes();
    const runTogether = entitlement({ scopes: ['sql', 'jobs', 'jobssql'], defaultScopes: ['sql'] });
    const ab = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: runTogether, caller: { ...app, tenantId: 'tenant-a', objectId: 'b' } }));
    const a = await MODES.oauth.vend(input(deps, { mode: 'oauth' }, { entitlement: runTogether, caller: { ...app, tenantId: 'tenant-', objectId: 'ab' } }));
    const two = await MODES.oauth.vend(input(deps, { mode: 'oauth', scopes: ['jobs', 'sql'] }, { entitlement: runTogether }));
    const one = await MODES.oauth.vend(input(deps, { mode: 'oauth', scopes: ['jobssql'] }, { entitlement: runTogether }));
    expect(new Set([ab.token, a.token, two.token, one.token]).size).toBe(4);
    expect(calls.exchange.map((c) => c[2])).toEqual([['sql'], ['sql'], ['jobs', 'sql'], ['jobssql']]);
  });

  it('a token the workspace issues for less than the asked validity is 502, not handed out', async () => {
    const short = { exchange: () => Promise.resolve({ token: jwt({ jti: 'j' }), expiresOnMs: NOW + 299_999, scopes: ['sql'] }) };
    const err = await MODES.oauth.vend(input(fakes({ oauth: short }).deps, { mode: 'oauth' }, { entitlement: scoped })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect((err as UpstreamRejectedError).detail).toBe('Databricks workspace "prod" issued a token valid for less than the 300 s asked for.');
    const exact = { exchange: () => Promise.resolve({ token: jwt({ jti: 'j' }), expiresOnMs: NOW + 300_000, scopes: ['sql'] }) };
    await expect(MODES.oauth.vend(input(fakes({ oauth: exact }).deps, { mode: 'oauth' }, { entitlement: scoped }))).resolves.toMatchObject({ tokenId: 'j' });
  });

  it('a 503 while getting the SP token is marked refused before minting; one from the exchange is not', async () => {
    const down = { getToken: () => Promise.reject(new UpstreamUnavailableError('entra down')) };
    const before = await MODES.oauth.vend(input(fakes({ minter: down }).deps, { mode: 'oauth' }, { entitlement: scoped })).catch((e: unknown) => e);
    expect((before as UpstreamUnavailableError).refusedBeforeMinting).toBe(true);
    const lost = { exchange: () => Promise.reject(new UpstreamUnavailableError('no answer')) };
    const after = await MODES.oauth.vend(input(fakes({ oauth: lost }).deps, { mode: 'oauth' }, { entitlement: scoped })).catch((e: unknown) => e);
    expect((after as UpstreamUnavailableError).refusedBeforeMinting).toBe(false);
  });
});

describe('mode user', () => {
  it('is for delegated callers only, and takes none of lifetime_seconds, management_token or scopes', () => {
    expect(refusal(() => MODES.user.check(request({ mode: 'user' }), app))).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining('for delegated (user) callers only') as string });
    expect(refusal(() => MODES.user.check(request({ mode: 'user' }), user))).toBeUndefined();
    for (const extra of [{ lifetime_seconds: 600 }, { management_token: true }, { scopes: ['sql'] }]) {
      expect(refusal(() => MODES.user.check(request({ mode: 'user', ...extra }), user))).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining('takes none of lifetime_seconds') as string });
    }
  });

  it('sends the caller\'s own bearer token as the assertion and returns the user\'s token for the workspace', async () => {
    const { deps, calls } = fakes();
    const vended = await MODES.user.vend(input(deps, { mode: 'user', min_validity_seconds: 90 }, { caller: user, ctx: { requestId: 'r', authorization: '  bearer   the.caller.jwt ', sourceIp: undefined, userAgent: undefined } }));
    expect(calls.obo).toEqual([['oid-user', 'the.caller.jwt', config.databricksScope, 90]]);
    expect(vended).toMatchObject({ tokenId: 'obo-uti', expiresOnMs: NOW + 3_600_000, headers: { 'X-Databricks-Azure-Workspace-Resource-Id': RESOURCE } });
    expect(vended.token).toBe(jwt({ uti: 'obo-uti' }));
  });

  it.each([[null], [''], ['Basic abc'], ['Bearer two parts'], ['Bearer'], ['xBearer abc']])('passes no assertion for authorization %j (Entra ID refuses it)', async (authorization) => {
    const { deps, calls } = fakes();
    await MODES.user.vend(input(deps, { mode: 'user' }, { caller: user, ctx: { requestId: 'r', authorization, sourceIp: undefined, userAgent: undefined } }));
    expect(calls.obo[0]?.[1]).toBe('');
  });

  it('without onBehalfOf configured it is 502 naming the setting, and nothing is asked of Entra ID', async () => {
    const { deps, calls } = fakes({ onBehalfOf: undefined });
    const err = await MODES.user.vend(input(deps, { mode: 'user' }, { caller: user })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect((err as UpstreamRejectedError).detail).toContain('onBehalfOf.clientId');
    expect(calls.obo).toEqual([]);
  });

  it('an on-behalf-of token valid for less than asked is 502; exactly the asked validity passes', async () => {
    const obo = (ms: number) => ({ getUserToken: () => Promise.resolve({ token: jwt({ uti: 'x' }), expiresOnMs: NOW + ms }) });
    const err = await MODES.user.vend(input(fakes({ onBehalfOf: obo(59_999) }).deps, { mode: 'user', min_validity_seconds: 60 }, { caller: user })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamRejectedError);
    expect((err as UpstreamRejectedError).detail).toBe('Entra ID issued an on-behalf-of token valid for less than the 60 s asked for.');
    await expect(MODES.user.vend(input(fakes({ onBehalfOf: obo(60_000) }).deps, { mode: 'user', min_validity_seconds: 60 }, { caller: user }))).resolves.toMatchObject({ tokenId: 'x' });
  });
});

describe('mode pat', () => {
  it('refuses management_token only', () => {
    expect(refusal(() => MODES.pat.check(request({ management_token: true }), app))).toBeInstanceOf(InvalidRequestError);
    expect(refusal(() => MODES.pat.check(request({ lifetime_seconds: 600, scopes: ['sql'] }), app))).toBeUndefined();
  });

  it('creates the PAT with the SP token, the grant\'s lifetime by default, and the caller mark in its comment', async () => {
    const { deps, calls } = fakes();
    const vended = await MODES.pat.vend(input(deps, { mode: 'pat' }));
    expect(calls.getToken).toEqual([['etl-sp', config.databricksScope, 120]]);
    const spToken = jwt({ uti: `uti-${config.databricksScope}`, scope: config.databricksScope });
    expect(calls.create).toEqual([[ws, spToken, 3600, patComment(TENANT, 'oid-app', 'req-1'), undefined]]);
    expect(vended).toMatchObject({ token: 'dapi0123', tokenId: 'tid-1', expiresOnMs: NOW + 600_000, fields: { token_id: 'tid-1' } });
    expect(vended.scopes).toBeUndefined();
    // Its revoke undoes exactly this PAT, matched on this caller's mark.
    expect(await vended.revoke?.()).toBe('PAT tid-1 in workspace "prod" was created but not issued; it was revoked');
    expect(calls.revoke).toEqual([[ws, spToken, 'tid-1', `dbx-token-vending caller=${TENANT}/oid-app `]]);
  });

  it('takes a shorter lifetime as asked, and refuses one beyond the grant before anything is created', async () => {
    const { deps, calls } = fakes();
    await MODES.pat.vend(input(deps, { mode: 'pat', lifetime_seconds: 3600 }));
    expect(calls.create[0]?.[2]).toBe(3600);
    const err = await MODES.pat.vend(input(deps, { mode: 'pat', lifetime_seconds: 3601 })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_request', detail: 'lifetime_seconds must be between 60 and 3600 for this workspace.' });
    expect(calls.create).toHaveLength(1);
  });

  it('creates a scoped PAT under a grant with scopes, or when scopes are asked (then the grant must cover them)', async () => {
    const { deps, calls } = fakes();
    const scoped = await MODES.pat.vend(input(deps, { mode: 'pat' }, { entitlement: entitlement({ scopes: ['sql', 'jobs'], defaultScopes: ['sql'] }) }));
    expect(calls.create[0]?.[4]).toEqual(['sql']);
    expect(scoped.scopes).toEqual(['sql']);
    await expect(MODES.pat.vend(input(deps, { mode: 'pat', scopes: ['sql'] }))).rejects.toBeInstanceOf(NotGrantedError);
    expect(calls.create).toHaveLength(1);
  });

  it('at the live-PAT cap it is 429 and no PAT is created', async () => {
    const { deps, calls, listed } = fakes();
    listed.push({ tokenId: 't0', comment: patComment(TENANT, 'oid-app', 'old'), expiresOnMs: -1 });
    await expect(MODES.pat.vend(input(deps, { mode: 'pat' }))).rejects.toMatchObject({ status: 429 });
    expect(calls.create).toEqual([]);
  });
});

describe('tokenIdOf: an identifier for the audit row, never the token', () => {
  it('is uti, else jti, and only when it is a string; a token that is not a JWT has none', () => {
    expect(tokenIdOf(jwt({ uti: 'u1', jti: 'j1' }))).toBe('u1');
    expect(tokenIdOf(jwt({ jti: 'j1' }))).toBe('j1');
    expect(tokenIdOf(jwt({ uti: 7 }))).toBeUndefined();
    expect(tokenIdOf(jwt({}))).toBeUndefined();
    expect(tokenIdOf('dapi0123456789abcdef0123456789abcdef')).toBeUndefined();
  });
});

describe('mintedTokenId: the id of a cached token object, decoded once', () => {
  it('reads each object once and answers again from memory; another object is decoded on its own', () => {
    let reads = 0;
    const token = jwt({ uti: 'u1' });
    const minted = {
      get token() {
        reads += 1;
        return token;
      },
    };
    expect(mintedTokenId(minted)).toBe('u1');
    expect(mintedTokenId(minted)).toBe('u1');
    expect(reads).toBe(1);
    expect(mintedTokenId({ token: jwt({ jti: 'j2' }) })).toBe('j2');
  });

  it('remembers "no id" too (a token that is not a JWT)', () => {
    let reads = 0;
    const minted = {
      get token() {
        reads += 1;
        return 'dapi0123456789abcdef0123456789abcdef';
      },
    };
    expect(mintedTokenId(minted)).toBeUndefined();
    expect(mintedTokenId(minted)).toBeUndefined();
    expect(reads).toBe(1);
  });
});
