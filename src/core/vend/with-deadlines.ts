import { boundedCall, raceDeadline, requestBudget, retryAfterFor } from '../deadline';
import type { Deadlines, RequestBudget } from '../deadline';
import { AuditUnavailableError } from '../errors';
import { revokeWhenLate } from './pat-orphans';
import type { VendDeps } from './vend-deps';

/**
 * Puts the service's own deadlines around every upstream the vend path uses, so no SDK that
 * ignores its abort signal can hold a caller past the budget. Calls before the audit write keep
 * the audit's share of the budget in reserve, so a refusal can still be recorded in time.
 *
 * These deps bound each call by its own deadline only; `forRequest()` gives the deps of one
 * request, whose calls are also bounded by what is left of a budget that starts then, and whose
 * `unbudgeted` deps serve cleanup that must run after that budget is spent.
 */
export function withDeadlines(deps: VendDeps, d: Deadlines): VendDeps {
  // Copied once into plain data: an object with a getter (`grants`) is many times slower to copy,
  // and each request copies it. The request's deps read `grants` from `deps` itself, as it is then.
  return bind({ ...deps }, deps, d, undefined, undefined);
}

function bind(data: VendDeps, deps: VendDeps, d: Deadlines, budget: RequestBudget | undefined, unbudgeted: VendDeps | undefined): VendDeps {
  const reserveMs = d.auditMs;
  const mintMs = d.keyVaultMs + d.entraMs;
  const bounded: VendDeps = {
    ...data,
    grants: deps.grants,
    deadlines: d,
    verifyCaller: (authorization) =>
      boundedCall('Entra ID (signing keys)', () => deps.verifyCaller(authorization), { callMs: d.signingKeysMs, retryAfterSeconds: retryAfterFor(d.signingKeysMs), reserveMs, budget }),
    minter: {
      getToken: (sp, scope, minValidity) =>
        boundedCall('Key Vault or Entra ID', () => deps.minter.getToken(sp, scope, minValidity), { callMs: mintMs, retryAfterSeconds: retryAfterFor(d.entraMs), reserveMs, budget }),
    },
    pats: {
      create: async (ws, spToken, lifetime, comment, scopes) => {
        const creating = deps.pats.create(ws, spToken, lifetime, comment, scopes);
        try {
          return await boundedCall(`Databricks workspace "${ws.name}"`, () => creating, { callMs: d.databricksMs, retryAfterSeconds: retryAfterFor(d.databricksMs), reserveMs, budget });
        } catch (err) {
          // The caller has its answer; a PAT that still arrives is nobody's and is revoked.
          revokeWhenLate({ ...deps, deadlines: d }, ws, spToken, comment, creating);
          throw err;
        }
      },
      list: (ws, spToken) =>
        boundedCall(`Databricks workspace "${ws.name}"`, () => deps.pats.list(ws, spToken), { callMs: d.databricksMs, retryAfterSeconds: retryAfterFor(d.databricksMs), reserveMs, budget }),
      revoke: (ws, spToken, tokenId, mark) =>
        boundedCall(`Databricks workspace "${ws.name}"`, () => deps.pats.revoke(ws, spToken, tokenId, mark), { callMs: d.databricksMs, retryAfterSeconds: retryAfterFor(d.databricksMs), reserveMs, budget }),
    },
    audit: {
      // Not bounded by the budget: a refusal is recorded even when the budget is spent.
      record: (record) => raceDeadline(deps.audit.record(record), d.auditMs, () => new AuditUnavailableError(new Error(`the audit write did not finish within ${d.auditMs} ms`))),
    },
  };
  const base = unbudgeted ?? bounded;
  // Set after the spread: deps that came from an earlier withDeadlines never lend theirs.
  return Object.assign(bounded, { unbudgeted: base, forRequest: () => bind(data, deps, d, requestBudget(d.budgetMs), base) });
}
