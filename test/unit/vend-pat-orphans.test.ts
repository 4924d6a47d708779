import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadlinesFor } from '../../src/core/deadline';
import { AuditUnavailableError, UnknownTokenError, UpstreamUnavailableError } from '../../src/core/errors';
import { patComment } from '../../src/core/mint';
import type { VendDeps } from '../../src/core/vend';
import { callerMarkOf, recordOrRevoke, revokeOrphan, revokeWhenLate } from '../../src/core/vend/pat-orphans';
import { withDeadlines } from '../../src/core/vend/with-deadlines';
import { TENANT, vendConfig } from '../support/vend-config';

// A PAT that exists in the workspace but is not handed out must be revoked, and the log line that
// says so names it by id only. These are the promises of pat-orphans.ts.

const config = vendConfig({ prod: 'https://adb-1.2.azuredatabricks.net' }, []);
const ws = config.workspaces.get('prod')!;
const COMMENT = patComment(TENANT, 'oid-a', 'req-1');
const MARK = `dbx-token-vending caller=${TENANT}/oid-a `;

function deps(revoke: (...args: unknown[]) => Promise<void>, deadlines?: VendDeps['deadlines']): { deps: VendDeps; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const d = { pats: { revoke: (...args: unknown[]) => (calls.push(args), revoke(...args)) }, ...(deadlines ? { deadlines } : {}) } as unknown as VendDeps;
  return { deps: d, calls };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('callerMarkOf', () => {
  it('is the comment up to its request id, or the whole comment when it has none', () => {
    expect(callerMarkOf(COMMENT)).toBe(MARK);
    expect(callerMarkOf('made by hand')).toBe('made by hand');
    expect(callerMarkOf('request=x')).toBe('');
  });
});

describe('revokeOrphan', () => {
  it('revokes the PAT by id with the SP token and the caller mark, and says so by id', async () => {
    const { deps: d, calls } = deps(() => Promise.resolve());
    expect(await revokeOrphan(d, ws, 'sp-token', 'tid-7', MARK)).toBe('PAT tid-7 in workspace "prod" was created but not issued; it was revoked');
    expect(calls).toEqual([[ws, 'sp-token', 'tid-7', MARK]]);
  });

  it('names the reason of a failed revocation: our code, our own message, or just "error" for a package\'s error', async () => {
    const failed = (reason: string) => `PAT t in workspace "prod" was created but not issued; its revocation failed (${reason}): an operator must revoke it`;
    const says = (err: unknown) => revokeOrphan(deps(async () => {
      await Promise.resolve();
      throw err;
    }).deps, ws, 'sp', 't', MARK);
    expect(await says(new UnknownTokenError({ detail: 'gone' }))).toBe(failed('unknown_token'));
    expect(await says(new UpstreamUnavailableError('Databricks workspace "prod" did not answer'))).toBe(failed('upstream_unavailable'));
    // Our own error: its stack runs through our code only (a test's own stack runs through the runner's packages).
    const own = new Error('socket hang up');
    own.stack = `Error: ${own.message}\n    at revokePat (/app/dist/src/core/mint/databricks-pats.js:1:1)`;
    expect(await says(own)).toBe(failed('socket hang up'));
    const sdk = new Error('GET https://host/?token=dapiSECRET failed');
    sdk.stack = `Error: ${sdk.message}\n    at x (/app/node_modules/undici/lib/fetch.js:1:1)`;
    expect(await says(sdk)).toBe(failed('error'));
    expect(await says('a string')).toBe(failed('error'));
    const noStack = new Error('no stack');
    noStack.stack = undefined;
    expect(await says(noStack)).toBe(failed('no stack'));
  });

  const hang = () => new Promise<void>(() => undefined);

  it('gives up after its own deadline, leaving it to an operator', async () => {
    // deadlinesFor(40): orphanRevokeMs 10.
    const line = await revokeOrphan(deps(hang, deadlinesFor(40)).deps, ws, 'sp', 't', MARK);
    expect(line).toBe('PAT t in workspace "prod" was created but not issued; its revocation failed (no answer within 10 ms): an operator must revoke it');
  });

  it('without configured deadlines the revocation gets 5 s', async () => {
    vi.useFakeTimers();
    let line: string | undefined;
    void revokeOrphan(deps(hang).deps, ws, 'sp', 't', MARK).then((l) => (line = l));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(line).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(line).toMatch(/its revocation failed \(.+\): an operator must revoke it$/);
  });

  it('runs outside the request budget: a spent budget does not stop the revocation', async () => {
    const d = deadlinesFor(20_000);
    const { deps: raw, calls } = deps(() => Promise.resolve());
    const bounded = withDeadlines({ ...raw, pats: { ...raw.pats, create: () => Promise.reject(new Error('unused')), list: () => Promise.resolve([]) } }, d);
    const request = bounded.forRequest?.();
    // A request whose budget is spent: its own bounded calls fail at once…
    vi.useFakeTimers({ now: Date.now() + d.budgetMs + 1 });
    await expect(request?.pats.revoke(ws, 'sp', 't', MARK)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    expect(calls).toHaveLength(0);
    // …yet the orphan's revocation still runs.
    const line = await revokeOrphan(request ?? bounded, ws, 'sp', 't', MARK);
    vi.useRealTimers();
    expect(line).toMatch(/it was revoked$/);
    expect(calls).toHaveLength(1);
  });
});

describe('recordOrRevoke', () => {
  it('records and does nothing else when the record is written', async () => {
    const revoke = vi.fn(() => Promise.resolve('revoked'));
    await expect(recordOrRevoke(() => Promise.resolve(), revoke)).resolves.toBeUndefined();
    expect(revoke).not.toHaveBeenCalled();
  });

  it('without a revoke (nothing revocable) the audit failure passes through as it is', async () => {
    const failure = new AuditUnavailableError(new Error('table down'));
    await expect(recordOrRevoke(() => Promise.reject(failure), undefined)).rejects.toBe(failure);
  });

  it('with a revoke, revokes first and answers 503 whose cause names the PAT by id and keeps the audit failure', async () => {
    const failure = new Error('table down');
    const revoke = vi.fn(() => Promise.resolve('PAT tid-1 ... it was revoked'));
    const err = await recordOrRevoke(() => Promise.reject(failure), revoke).catch((e: unknown) => e);
    expect(revoke).toHaveBeenCalledOnce();
    expect(err).toBeInstanceOf(AuditUnavailableError);
    const cause = (err as AuditUnavailableError).cause as Error;
    expect(cause.message).toBe('PAT tid-1 ... it was revoked');
    expect(cause.cause).toBe(failure);
  });
});

describe('revokeWhenLate', () => {
  it('revokes a PAT that arrives after the caller\'s deadline and logs it by id', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { deps: d, calls } = deps(() => Promise.resolve());
    revokeWhenLate(d, ws, 'sp-token', COMMENT, Promise.resolve({ tokenId: 'tid-late' }));
    await vi.waitFor(() => expect(warn).toHaveBeenCalledOnce());
    expect(warn).toHaveBeenCalledWith('dbx-token-vending: PAT tid-late in workspace "prod" was created but not issued; it was revoked');
    expect(calls).toEqual([[ws, 'sp-token', 'tid-late', MARK]]);
  });

  it('a creation that fails late leaves nothing to revoke and nothing to log', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { deps: d, calls } = deps(() => Promise.resolve());
    let settled = false;
    const late = Promise.reject(new Error('create failed'));
    revokeWhenLate(d, ws, 'sp', COMMENT, late);
    await late.catch(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(true);
    expect(calls).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });
});
