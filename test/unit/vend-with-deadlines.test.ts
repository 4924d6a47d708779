import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadlinesFor } from '../../src/core/deadline';
import { AuditUnavailableError, UpstreamUnavailableError } from '../../src/core/errors';
import type { CreatedPat } from '../../src/core/mint';
import type { CallerIdentity } from '../../src/core/policy';
import type { VendDeps } from '../../src/core/vend';
import { withDeadlines } from '../../src/core/vend/with-deadlines';
import { TENANT, vendConfig } from '../support/vend-config';

// withDeadlines puts our own timer around every upstream of the vend path. With a 10 s budget:
// signing keys 2.5 s, Key Vault 4 s + Entra ID 5 s for a mint, Databricks 5 s, audit 2 s, orphan
// revocation 2.5 s. Fake timers make each bound exact and the test instant.

const D = deadlinesFor(10_000);
const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, []);
const ws = config.workspaces.get('prod')!;
const sp = ws.servicePrincipal;
const caller: CallerIdentity = { tenantId: TENANT, objectId: 'oid-a', appId: 'app', roles: [], kind: 'app', name: undefined };
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

function raw(over: Record<string, unknown> = {}) {
  const calls: unknown[][] = [];
  const rec = <T>(name: string, value: () => Promise<T>) => (...args: unknown[]) => (calls.push([name, ...args]), value());
  const deps = {
    config,
    verifyCaller: rec('verify', () => Promise.resolve(caller)),
    minter: { getToken: rec('getToken', () => Promise.resolve({ token: 'sp', expiresOnMs: 1 })) },
    pats: {
      create: rec('create', () => Promise.resolve<CreatedPat>({ token: 'dapi', tokenId: 'tid', expiresOnMs: 1 })),
      list: rec('list', () => Promise.resolve([])),
      revoke: rec('revoke', () => Promise.resolve()),
    },
    audit: { record: rec('record', () => Promise.resolve()) },
    version: 'kept',
    ...over,
  } as unknown as VendDeps;
  return { deps, calls };
}

/** Settles `work` under fake time and says when (ms after the start) and how. */
async function settleTime(work: () => Promise<unknown>, stepMs = 1): Promise<{ atMs: number; error?: unknown; value?: unknown }> {
  const started = Date.now();
  let outcome: { error?: unknown; value?: unknown } | undefined;
  work().then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
  for (let i = 0; i < 20_000 && !outcome; i++) await vi.advanceTimersByTimeAsync(stepMs);
  return { atMs: Date.now() - started, ...outcome };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('withDeadlines passes every call through unchanged when the upstream answers', () => {
  it('same arguments, same answers, and the deadlines on the deps', async () => {
    const { deps, calls } = raw();
    const d = withDeadlines(deps, D);
    expect(d.deadlines).toBe(D);
    expect(d.version).toBe('kept');
    expect(await d.verifyCaller('Bearer x')).toBe(caller);
    expect(await d.minter.getToken(sp, 'scope/.default', 120)).toEqual({ token: 'sp', expiresOnMs: 1 });
    expect(await d.pats.create(ws, 'sp', 600, 'comment', ['sql'])).toEqual({ token: 'dapi', tokenId: 'tid', expiresOnMs: 1 });
    expect(await d.pats.list(ws, 'sp')).toEqual([]);
    await d.pats.revoke(ws, 'sp', 'tid', 'mark');
    await d.audit.record({ request_id: 'r' } as never);
    expect(calls).toEqual([
      ['verify', 'Bearer x'],
      ['getToken', sp, 'scope/.default', 120],
      ['create', ws, 'sp', 600, 'comment', ['sql']],
      ['list', ws, 'sp'],
      ['revoke', ws, 'sp', 'tid', 'mark'],
      ['record', { request_id: 'r' }],
    ]);
  });

  it("a request's deps keep everything else, read the grants in force when it arrives, and share one unbudgeted set", async () => {
    let grants = 'first';
    const { deps, calls } = raw();
    // A getter, as the service's deps have (the grants in force now).
    Object.defineProperty(deps, 'grants', { get: () => grants, enumerable: true });
    const d = withDeadlines(deps, D);
    const first = d.forRequest?.();
    grants = 'second';
    const second = d.forRequest?.();
    expect(first?.grants).toBe('first');
    expect(second?.grants).toBe('second');
    expect(second?.version).toBe('kept');
    expect(second?.deadlines).toBe(D);
    expect(await second?.verifyCaller('Bearer y')).toBe(caller);
    expect(calls).toEqual([['verify', 'Bearer y']]);
    expect(d.unbudgeted).toBe(d);
    expect(first?.unbudgeted).toBe(d);
    expect(second?.forRequest?.().unbudgeted).toBe(d);
  });
});

describe('each upstream that never answers is cut at its own deadline', () => {
  it.each([
    ['signing keys', { verifyCaller: never }, (d: VendDeps) => d.verifyCaller('Bearer x'), 2_500, 'Entra ID (signing keys) did not answer within 2.5 s; no token was issued.', 3],
    ['a mint (Key Vault + Entra ID)', { minter: { getToken: never } }, (d: VendDeps) => d.minter.getToken(sp, 's', 1), 9_000, 'Key Vault or Entra ID did not answer within 9 s; no token was issued.', 5],
    ['token list', { pats: { list: never } }, (d: VendDeps) => d.pats.list(ws, 'sp'), 5_000, 'Databricks workspace "prod" did not answer within 5 s; no token was issued.', 5],
    ['token revoke', { pats: { revoke: never } }, (d: VendDeps) => d.pats.revoke(ws, 'sp', 't', 'm'), 5_000, 'Databricks workspace "prod" did not answer within 5 s; no token was issued.', 5],
    ['token create', { pats: { create: never } }, (d: VendDeps) => d.pats.create(ws, 'sp', 600, 'c'), 5_000, 'Databricks workspace "prod" did not answer within 5 s; no token was issued.', 5],
  ])('%s', async (_name, over, call, ms, detail, retryAfter) => {
    const d = withDeadlines(raw(over).deps, D);
    const { atMs, error } = await settleTime(() => call(d), 100);
    expect(atMs).toBe(ms);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ detail, retryAfterSeconds: retryAfter });
  });

  it('an audit write is cut at the audit deadline: 503 audit_unavailable whose cause says how long it waited', async () => {
    const d = withDeadlines(raw({ audit: { record: never } }).deps, D);
    const { atMs, error } = await settleTime(() => d.audit.record({} as never), 100);
    expect(atMs).toBe(2_000);
    expect(error).toBeInstanceOf(AuditUnavailableError);
    expect(((error as AuditUnavailableError).cause as Error).message).toBe('the audit write did not finish within 2000 ms');
  });

  it('calls before the audit keep the audit\'s share of the request budget in reserve; the audit write does not', async () => {
    const upstreams = raw({ minter: { getToken: never }, verifyCaller: never, pats: { list: never }, audit: { record: never } }).deps;
    // A request's budget of 3 s, 2 s of it reserved for the audit: 1 s for each call before it.
    const request = (budgetMs: number): VendDeps => withDeadlines(upstreams, { ...D, budgetMs }).forRequest?.() as VendDeps;
    const before: ((d: VendDeps) => Promise<unknown>)[] = [(d) => d.minter.getToken(sp, 's', 1), (d) => d.verifyCaller(null), (d) => d.pats.list(ws, 'sp')];
    for (const call of before) {
      const { atMs, error } = await settleTime(() => call(request(3_000)), 100);
      expect(atMs).toBe(1_000);
      expect(error).toMatchObject({ detail: expect.stringContaining('did not answer within 1 s') as string });
    }
    const audit = await settleTime(() => request(1_000).audit.record({} as never), 100);
    expect(audit.atMs).toBe(2_000);
  });
});

describe('a PAT created after its deadline', () => {
  it('is revoked when it arrives, with the raw revoke under the orphan deadline, and logged by id', async () => {
    let arrive: (p: CreatedPat) => void = () => undefined;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { deps, calls } = raw({ pats: { create: () => new Promise<CreatedPat>((r) => (arrive = r)), list: never, revoke: (...a: unknown[]) => (calls.push(['revoke', ...a]), never()) } });
    const d = withDeadlines(deps, D);
    const created = await settleTime(() => d.pats.create(ws, 'sp-token', 600, `dbx-token-vending caller=${TENANT}/oid-a request=r1`), 100);
    expect(created.atMs).toBe(5_000);
    arrive({ token: 'dapi-late', tokenId: 'tid-late', expiresOnMs: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([['revoke', ws, 'sp-token', 'tid-late', `dbx-token-vending caller=${TENANT}/oid-a `]]);
    // The raw revoke never answers either: given up after the orphan deadline (2.5 s), not the 5 s default.
    await vi.advanceTimersByTimeAsync(2_499);
    expect(warn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/^dbx-token-vending: PAT tid-late in workspace "prod" was created but not issued; its revocation failed/);
  });

  it('a creation that fails is passed on as it is and nothing is revoked', async () => {
    const failure = new UpstreamUnavailableError('Databricks said no');
    const { deps, calls } = raw({ pats: { create: () => Promise.reject(failure), list: never, revoke: (...a: unknown[]) => (calls.push(a), Promise.resolve()) } });
    await expect(withDeadlines(deps, D).pats.create(ws, 'sp', 600, 'c')).rejects.toBe(failure);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toEqual([]);
  });
});
