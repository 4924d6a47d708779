import type { DatabricksTokenExchanger, OnBehalfOfMinter } from '../mint';
import type { Telemetry } from '../telemetry';
import type { VendDeps } from './vend-deps';

// Dependency spans around the upstream calls that are plain functions (Databricks, the caller's
// signing keys, on-behalf-of). The classes with a cache of their own (Key Vault, the SP's Entra ID
// tokens, the audit table) take the telemetry themselves, so a span means a real call.

export function tracedPats(pats: VendDeps['pats'], t: Telemetry): VendDeps['pats'] {
  if (!t.enabled) return pats;
  return {
    create: (ws, spToken, lifetime, comment, scopes) => t.dependency('databricks', 'create token', () => pats.create(ws, spToken, lifetime, comment, scopes)),
    list: (ws, spToken) => t.dependency('databricks', 'list tokens', () => pats.list(ws, spToken)),
    revoke: (ws, spToken, tokenId, mark) => t.dependency('databricks', 'revoke token', () => pats.revoke(ws, spToken, tokenId, mark)),
  };
}

export function tracedExchanger(exchanger: DatabricksTokenExchanger, t: Telemetry): DatabricksTokenExchanger {
  if (!t.enabled) return exchanger;
  return { exchange: (ws, subject, scopes) => t.dependency('databricks', 'token exchange', () => exchanger.exchange(ws, subject, scopes)) };
}

export function tracedOnBehalfOf(minter: OnBehalfOfMinter, t: Telemetry): OnBehalfOfMinter {
  if (!t.enabled) return minter;
  return { getUserToken: (caller, assertion, scope, min) => t.dependency('entra', 'on-behalf-of', () => minter.getUserToken(caller, assertion, scope, min)) };
}

/** OIDC discovery and the JWKS: Entra ID calls made while checking callers. */
export function tracedFetch(t: Telemetry): typeof fetch | undefined {
  if (!t.enabled) return undefined;
  return (input, init) => t.dependency('entra', 'signing keys', () => fetch(input, init));
}
