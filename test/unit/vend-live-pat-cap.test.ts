import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors';
import type { ListedPat } from '../../src/core/mint';
import { patComment } from '../../src/core/mint';
import { compileGrants } from '../../src/core/policy';
import type { CallerIdentity } from '../../src/core/policy';
import { enforceLivePatCap, livePatCap } from '../../src/core/vend/live-pat-cap';
import type { VendDeps } from '../../src/core/vend';
import { TENANT, vendConfig } from '../support/vend-config';

const NOW = 1_764_000_000_000;
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net', dev: 'https://adb-3.4.azuredatabricks.net' }, [
  { workspace: 'prod', callers: { roles: ['Vend.Prod'] }, modes: ['pat'], maxLifetimeSeconds: 3600, maxLivePats: 2 },
  { workspace: 'prod', callers: { roles: ['Vend.Big'] }, modes: ['pat'], maxLifetimeSeconds: 3600, maxLivePats: 3 },
  { workspace: 'prod', callers: { roles: ['Vend.Huge'] }, modes: ['aad'], maxLifetimeSeconds: 3600, maxLivePats: 9 },
  { workspace: 'dev', callers: { roles: ['Vend.Other'] }, modes: ['pat'], maxLifetimeSeconds: 3600, maxLivePats: 50 },
]);
const grants = compileGrants(config.grants, config.tenantId);
const ws = config.workspaces.get('prod')!;

function caller(oid: string, roles: string[]): CallerIdentity {
  return { tenantId: TENANT, objectId: oid, appId: 'app-1', roles, kind: 'app', name: undefined };
}

function deps(pats: ListedPat[]): { deps: VendDeps; tokens: string[] } {
  const tokens: string[] = [];
  const d = { grants, clock: { now: () => NOW }, pats: { list: (_ws: unknown, spToken: string) => (tokens.push(spToken), Promise.resolve(pats)) } } as unknown as VendDeps;
  return { deps: d, tokens };
}

const mine = (n: number, expiresOnMs: number): ListedPat => ({ tokenId: `t${n}`, comment: patComment(TENANT, 'oid-a', `req-${n}`), expiresOnMs });

describe('livePatCap', () => {
  it('is the largest maxLivePats among the caller\'s pat grants for the workspace; 0 without one', () => {
    expect(livePatCap(grants, caller('oid-a', ['Vend.Prod']), 'prod')).toBe(2);
    expect(livePatCap(grants, caller('oid-a', ['Vend.Prod', 'Vend.Big']), 'prod')).toBe(3);
    // An aad-only grant does not count, nor does a grant for another workspace or caller.
    expect(livePatCap(grants, caller('oid-a', ['Vend.Prod', 'Vend.Huge', 'Vend.Other']), 'prod')).toBe(2);
    expect(livePatCap(grants, caller('oid-a', ['Vend.Huge']), 'prod')).toBe(0);
  });
});

describe('enforceLivePatCap', () => {
  const prodCaller = caller('oid-a', ['Vend.Prod']);
  const comment = patComment(TENANT, 'oid-a', 'req-new');

  it('lets a caller below its cap through, reading the list with the SP token', async () => {
    const { deps: d, tokens } = deps([mine(1, NOW + 60_000)]);
    await expect(enforceLivePatCap(d, ws, 'sp-token', comment, prodCaller)).resolves.toBeUndefined();
    expect(tokens).toEqual(['sp-token']);
  });

  it('refuses 429 rate_limited at the cap, with Retry-After until the next PAT expires', async () => {
    const { deps: d } = deps([mine(1, NOW + 90_500), mine(2, NOW + 30_001)]);
    const err = await enforceLivePatCap(d, ws, 'sp-token', comment, prodCaller).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    const e = err as RateLimitedError;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfterSeconds).toBe(31);
    expect(e.detail).toBe('This caller holds 2 live PATs for workspace "prod", the most its grant allows (2): revoke one (DELETE /api/token/prod/{token_id}) or wait until one expires.');
  });

  it('counts only this caller\'s live PATs: expired ones, other callers\' and foreign PATs leave room', async () => {
    const others = [
      mine(1, NOW + 60_000),
      mine(2, NOW), // expires exactly now: no longer live
      mine(3, NOW - 1),
      { tokenId: 'x', comment: patComment(TENANT, 'oid-b', 'req-9'), expiresOnMs: NOW + 60_000 },
      { tokenId: 'y', comment: 'made by hand', expiresOnMs: -1 },
    ];
    await expect(enforceLivePatCap(deps(others).deps, ws, 'sp', comment, prodCaller)).resolves.toBeUndefined();
    // One more live PAT of this caller fills the cap of 2.
    await expect(enforceLivePatCap(deps([...others, mine(4, NOW + 1)]).deps, ws, 'sp', comment, prodCaller)).rejects.toMatchObject({ status: 429, retryAfterSeconds: 1 });
  });

  it('counts a PAT without expiry as live, and gives no Retry-After when none will expire', async () => {
    const err = await enforceLivePatCap(deps([mine(1, -1), mine(2, -1)]).deps, ws, 'sp', comment, prodCaller).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterSeconds).toBeUndefined();
    const mixed = await enforceLivePatCap(deps([mine(1, -1), mine(2, NOW + 2_000)]).deps, ws, 'sp', comment, prodCaller).catch((e: unknown) => e);
    expect((mixed as RateLimitedError).retryAfterSeconds).toBe(2);
  });

  it('refuses a caller without a pat grant (cap 0) even with no PAT at all', async () => {
    await expect(enforceLivePatCap(deps([]).deps, ws, 'sp', comment, caller('oid-a', ['Vend.Huge']))).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
  });
});
