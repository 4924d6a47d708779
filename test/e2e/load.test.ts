import { afterAll, beforeAll, expect, it } from 'vitest';
import { reconcileLoad } from '../../bench/lib/reconcile';
import { Stack } from './harness';

// The small run of `npm run load` (which sends 10,000): the same reconciliation, fewer vends.
let stack: Stack;
beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(async () => {
  await stack?.finish();
});

it('reconciles 500 vends at concurrency 100: 0 errors, one audit row per 200, one upstream call per SP', async () => {
  const f = await reconcileLoad(stack.sandbox, 500, 100);
  expect({ errors: f.errors, withToken: f.withToken, issuedRows: f.issuedRows, entraCalls: f.entraCalls, keyVaultReads: f.keyVaultReads })
    .toEqual({ errors: 0, withToken: f.vends, issuedRows: f.ok200, entraCalls: 1, keyVaultReads: 1 });
  expect(f.ok200).toBe(500);
}, 120_000);
