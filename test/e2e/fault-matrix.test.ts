import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import type { ExpectStatic } from 'vitest';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';
import type { Reply } from './harness';

// Every upstream fault, table-driven over real HTTP, with the budget scaled down (every deadline with it).
// A fault is set on a sandbox's upstream for everyone using it, so the rows run in lanes: each lane
// its own sandbox, one row at a time; the lanes run side by side (most of a row is waiting: a
// deadline, a Retry-After).
const BUDGET_MS = 5_000;
const LANES = 3;
const TOKEN_ENDPOINT = /\/oauth2\/v2\.0\/token$/;
const free: Stack[] = [];
const all: Stack[] = [];
const waiting: ((s: Stack) => void)[] = [];
let seq = 0;

beforeAll(async () => {
  all.push(...(await Promise.all(Array.from({ length: LANES }, () => Stack.start()))));
  free.push(...all);
});
afterAll(async () => {
  await Promise.all(all.map((s) => s.finish()));
});

async function inLane<T>(run: (s: Stack) => Promise<T>): Promise<T> {
  const stack = free.pop() ?? (await new Promise<Stack>((resolve) => waiting.push(resolve)));
  try {
    return await run(stack);
  } finally {
    const next = waiting.shift();
    if (next) next(stack);
    else free.push(stack);
  }
}

interface Row {
  readonly fault: string;
  /** 'warm': keys, app token and etl-sp cached, ops-sp never minted. 'cold': nothing cached. */
  readonly host: 'warm' | 'cold';
  readonly body: Record<string, unknown>;
  apply(s: Stack): void | Promise<void>;
  lift(s: Stack): void | Promise<void>;
  readonly expect: { readonly status: number; readonly code?: string; readonly retryAfter?: 'none' | number };
  /** The quota lifts when PATs expire or are revoked, not after a fixed time: the test need not wait it out. */
  readonly noWait?: boolean;
  /**
   * The outcome the decision's audit rows hold; 'none': the audit store itself was down, so at most
   * a late failed row; 'late': the store was slow, so the issuance row lands after the caller's
   * deadline, followed by the failed row that says the caller got 503 and no token.
   */
  readonly row: 'failed' | 'issued' | 'none' | 'rejected' | 'late';
}

const ops = { workspace: 'ops-sandbox' };
const pat = { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 };
const aad = { workspace: 'analytics-sandbox' };
const unavailable = (retryAfter: number) => ({ status: 503, code: 'upstream_unavailable', retryAfter });

const ROWS: Row[] = [
  { fault: 'Key Vault down', host: 'warm', body: ops, apply: (s) => s.sandbox.vault.setDown(true), lift: (s) => s.sandbox.vault.setDown(false), expect: unavailable(1), row: 'failed' },
  { fault: 'Key Vault slow past its deadline', host: 'warm', body: ops, apply: (s) => s.sandbox.vault.faults.set({ delayMs: 30_000 }), lift: (s) => s.sandbox.vault.faults.clear(), expect: unavailable(1), row: 'failed' },
  { fault: 'Key Vault 429 with Retry-After: 2', host: 'warm', body: ops, apply: (s) => s.sandbox.vault.faults.set({ path: /\/secrets\//, status: 429, headers: { 'retry-after': '2' }, json: { error: { code: 'Throttled', message: 'x' } } }), lift: (s) => s.sandbox.vault.faults.clear(), expect: unavailable(2), row: 'failed' },
  { fault: 'Entra ID down', host: 'warm', body: ops, apply: (s) => s.sandbox.authority.setDown(true), lift: (s) => s.sandbox.authority.setDown(false), expect: unavailable(1), row: 'failed' },
  { fault: 'Entra ID slow (30 s)', host: 'warm', body: ops, apply: (s) => s.sandbox.authority.faults.set({ path: TOKEN_ENDPOINT, delayMs: 30_000 }), lift: (s) => s.sandbox.authority.faults.clear(), expect: unavailable(1), row: 'failed' },
  { fault: 'Entra ID 429 with Retry-After: 2', host: 'warm', body: ops, apply: (s) => s.sandbox.authority.faults.set({ path: TOKEN_ENDPOINT, status: 429, headers: { 'retry-after': '2' }, json: { error: 'temporarily_unavailable' } }), lift: (s) => s.sandbox.authority.faults.clear(), expect: unavailable(2), row: 'failed' },
  { fault: 'Entra ID 500', host: 'warm', body: ops, apply: (s) => s.sandbox.authority.faults.set({ path: TOKEN_ENDPOINT, status: 500, json: { error: 'server_error' } }), lift: (s) => s.sandbox.authority.faults.clear(), expect: unavailable(1), row: 'failed' },
  {
    fault: 'Entra ID invalid_client after a rotation (Key Vault not yet updated)', host: 'warm', body: ops,
    apply: (s) => s.sandbox.authority.setClientSecrets(s.sandbox.apps.servicePrincipals['ops-sp'].clientId, ['rotated-secret-value-0123456789abcdef']),
    lift: (s) => void s.sandbox.vault.setSecret(s.sandbox.apps.servicePrincipals['ops-sp'].secretName, 'rotated-secret-value-0123456789abcdef'),
    expect: { status: 502, code: 'upstream_rejected', retryAfter: 'none' }, row: 'failed',
  },
  { fault: 'signing keys unreachable, keys cached', host: 'warm', body: aad, apply: (s) => s.sandbox.authority.setJwksDown(true), lift: (s) => s.sandbox.authority.setJwksDown(false), expect: { status: 200 }, row: 'issued' },
  { fault: 'signing keys unreachable, no keys cached', host: 'cold', body: aad, apply: (s) => s.sandbox.authority.setJwksDown(true), lift: (s) => s.sandbox.authority.setJwksDown(false), expect: unavailable(1), row: 'failed' },
  { fault: 'audit store down', host: 'warm', body: aad, apply: (s) => s.sandbox.audit.setDown(true), lift: (s) => s.sandbox.audit.setDown(false), expect: { status: 503, code: 'audit_unavailable', retryAfter: 1 }, row: 'none' },
  // Writes held 2.5 s: past the audit deadline (a fifth of the budget, 1 s here; 4 s of the real
  // 20 s), and still landing; PAT mode, so the PAT made before the write must be revoked.
  { fault: 'audit store slow past its deadline', host: 'warm', body: pat, apply: (s) => s.sandbox.audit.setSlow(2_500), lift: (s) => s.sandbox.audit.setSlow(0), expect: { status: 503, code: 'audit_unavailable', retryAfter: 1 }, row: 'late' },
  { fault: 'Databricks token/create 500', host: 'warm', body: pat, apply: (s) => s.sandbox.workspace.faults.set({ path: /\/token\/create$/, status: 500, json: { error_code: 'INTERNAL_ERROR' } }), lift: (s) => s.sandbox.workspace.faults.clear(), expect: unavailable(1), row: 'failed' },
  { fault: 'Databricks token/create slow (4 s)', host: 'warm', body: pat, apply: (s) => s.sandbox.workspace.faults.set({ path: /\/token\/create$/, delayMs: 4_000 }), lift: (s) => s.sandbox.workspace.faults.clear(), expect: unavailable(1), row: 'failed' },
  { fault: 'Databricks QUOTA_EXCEEDED', host: 'warm', body: pat, apply: (s) => s.sandbox.workspace.faults.set({ path: /\/token\/create$/, status: 400, json: { error_code: 'QUOTA_EXCEEDED', message: 'quota' } }), lift: (s) => s.sandbox.workspace.faults.clear(), expect: unavailable(60), row: 'failed', noWait: true },
];

async function hostFor(stack: Stack, row: Row, expect: ExpectStatic): Promise<SpawnedHost> {
  const host = await stack.host({ VENDING_REQUEST_BUDGET_MS: String(BUDGET_MS) });
  if (row.host === 'warm') expect((await stack.vend(host, aad)).status).toBe(200);
  return host;
}

function checkRetryAfter(reply: Reply, rule: 'none' | number | undefined, expect: ExpectStatic): number {
  const header = reply.headers.get('retry-after');
  if (rule === undefined || rule === 'none') {
    expect(header).toBeNull();
    return 0;
  }
  expect(Number(header)).toBeGreaterThanOrEqual(rule);
  return Number(header);
}

/** What each row measured, printed as a table at the end (the figures the README quotes). */
const measured = new Map<Row, string>();
afterAll(() => {
  console.log(['| row | status | code | Retry-After | answered in |', '|---|---|---|---|---|', ...ROWS.flatMap((r) => measured.get(r) ?? [])].join('\n'));
});

describe.concurrent('fault matrix', () => {
  it.for(ROWS)('$fault → $expect.status $expect.code', ({ timeout: 90_000 }), (row, { expect }) => inLane(async (stack) => {
    const host = await hostFor(stack, row, expect);
    const requestId = `fault-${++seq}`;
    await row.apply(stack);
    const started = performance.now();
    let reply: Reply;
    try {
      reply = await stack.vend(host, row.body, { headers: { 'x-request-id': requestId } });
    } finally {
      await row.lift(stack);
    }
    const ms = performance.now() - started;

    expect({ status: reply.status, code: reply.json.code }).toEqual({ status: row.expect.status, code: row.expect.code });
    expect(ms, 'answered within the budget').toBeLessThan(BUDGET_MS + 1_500);
    if (row.expect.status !== 200) expect(reply.json.access_token).toBeUndefined();
    const wait = checkRetryAfter(reply, row.expect.retryAfter, expect);
    measured.set(row, `| ${row.fault} | ${reply.status} | ${typeof reply.json.code === 'string' ? reply.json.code : '—'} | ${reply.headers.get('retry-after') ?? '—'} | ${Math.round(ms)} ms |`);
    if (row.row === 'late') {
      // No token left behind: the PAT created before the write failed is revoked before the answer.
      const live = stack.sandbox.workspace.listTokens().filter((p) => p.comment.includes(`request=${requestId}`));
      expect(live).toEqual([]);
    }
    // Recovery: the fault lifted, a caller that waits what it was told gets a token.
    await new Promise((resolve) => setTimeout(resolve, row.noWait ? 0 : wait * 1000));
    expect((await stack.vend(host, row.body)).status).toBe(200);
    // Refusal rows are written in the background: wait for the decision's row.
    await vi.waitFor(async () => {
      const rows = (await stack.auditRows()).filter((r) => r.request_id === requestId).map((r) => [r.outcome, r.status, r.code]);
      // With the store down, the refusal's background write may land once it is back, or be lost
      // with the store (then only the log has it): never more than the one failed row.
      if (row.row === 'none') expect([[], [['failed', 503, 'audit_unavailable']]]).toContainEqual(rows);
      else if (row.row === 'late') expect(rows.sort()).toEqual([['failed', 503, 'audit_unavailable'], ['issued', 200, 'issued']]);
      else if (row.row === 'issued') expect(rows).toEqual([['issued', 200, 'issued']]);
      else expect(rows).toEqual([['failed', row.expect.status, row.expect.code]]);
    }, { timeout: 10_000, interval: 200 });
  }));
});
