import type { VendedToken } from '../types';
import { VendingClientError } from '../vending-client-error';

export type TokenFormat = 'json' | 'env' | 'header';
export const TOKEN_FORMATS: readonly TokenFormat[] = ['json', 'env', 'header'];

export const EXIT = { ok: 0, unexpected: 1, usage: 2, refused: 3, unavailable: 4 } as const;

/**
 * What `dbx-vend token` prints on stdout. `env` is for `eval "$(dbx-vend token …)"`: the
 * Databricks CLI and SDKs read these variables; `DATABRICKS_AUTH_TYPE=pat` makes them send the
 * token as it is (an Entra ID token works as a bearer token too) even when other credentials
 * (ARM_*, a config profile) are present in the shell. `header` is one `Name: value` line per
 * header, for `curl -H @<(dbx-vend token … --format header)`.
 */
export function formatToken(token: VendedToken, format: TokenFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(token, null, 2)}\n`;
    case 'env':
      return envLines({
        DATABRICKS_HOST: token.workspace.host,
        DATABRICKS_TOKEN: token.access_token,
        DATABRICKS_AZURE_RESOURCE_ID: token.workspace.resource_id,
        DATABRICKS_AUTH_TYPE: 'pat',
        // For the revocation at the end of a script: `dbx-vend revoke --token-id "$DBX_VEND_TOKEN_ID"`.
        ...(token.token_id === undefined ? {} : { DBX_VEND_TOKEN_ID: token.token_id }),
      });
    case 'header':
      return Object.entries(token.headers)
        .map(([name, value]) => `${name}: ${value}\n`)
        .join('');
  }
}

/** `export NAME='value'` lines, safe under `eval`. */
export function envLines(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join('');
}

/** POSIX single quotes: nothing inside is expanded, so a value cannot run code under `eval`. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** 4xx and a credential that gives no token: the caller must change something. Else: try later. */
export function exitCodeOf(err: VendingClientError): number {
  if (err.code === 'credential_unavailable') return EXIT.refused;
  if (err.status !== undefined && err.status >= 400 && err.status < 500) return EXIT.refused;
  return EXIT.unavailable;
}

/** The diagnostic line for stderr: code, what happened, request id — the message never holds a secret. */
export function describeFailure(err: VendingClientError): string {
  const head = err.message.startsWith(`${err.code}:`) ? err.message : `${err.code}: ${err.message}`;
  const retry = err.retryAfterSeconds === undefined ? '' : ` Retry after ${err.retryAfterSeconds} s.`;
  const hint =
    err.code === 'credential_unavailable'
      ? ` (${err.cause instanceof Error ? err.cause.name : 'no token'}) Sign in with \`az login\`, run with a managed identity or AZURE_* service principal settings, or set DBX_VEND_CALLER_TOKEN.`
      : '';
  return `dbx-vend: ${head}${retry}${hint}\n`;
}

export function isClientError(err: unknown): err is VendingClientError {
  return err instanceof VendingClientError;
}
