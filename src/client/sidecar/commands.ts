import type { CliIo } from '../lib/cli-io';
import { describeFailure, envLines, isClientError } from '../lib/cli-output';
import type { TokenRequest, VendedToken } from '../types';
import type { VendingClient } from '../vending-client';
import { startMetadataServer } from './metadata-server';
import { runChild } from './run-child';
import { TokenKeeper } from './token-keeper';

/** The most `min_validity_seconds` the vending API accepts (DESIGN §2). */
const EXEC_MIN_VALIDITY_SECONDS = 3000;

export interface MetadataServerCommand {
  /**
   * What each refresh asks for (mode aad, oauth or user; `minValiditySeconds` set): the served
   * token has at least that long left (plus the client's skew) and is refreshed when it has less.
   */
  readonly request: TokenRequest & { readonly minValiditySeconds: number };
  readonly port: number;
  /** `--exec -- <command…>`: run it with the variables set, stop with it. */
  readonly command: readonly string[] | undefined;
}

export interface ExecCommand {
  /** Any mode; without `minValiditySeconds` a cached mode asks for the longest validity there is. */
  readonly request: TokenRequest;
  readonly command: readonly string[];
}

/**
 * `dbx-vend metadata-server`: the first token is vended before anything is printed or started,
 * so a missing grant fails at once (stderr, non-zero, nothing on stdout).
 */
export async function metadataServer(client: VendingClient, c: MetadataServerCommand, io: CliIo): Promise<number> {
  const fetch = (): Promise<VendedToken> => client.getToken(c.request);
  const keeper = new TokenKeeper({ fetch, nowMs: () => Date.now(), log: (line) => io.stderr.write(line) });
  const first = await fetch();
  await keeper.current();
  const server = await startMetadataServer({ host: first.workspace.host, port: c.port, keeper });
  const vars = { DATABRICKS_HOST: first.workspace.host, DATABRICKS_METADATA_SERVICE_URL: server.url, DATABRICKS_AUTH_TYPE: 'metadata-service' };
  try {
    if (c.command) return await runWith(c.command, childEnv(io.env, vars), io);
    io.stdout.write(envLines(vars));
    io.stderr.write(`dbx-vend: serving ${c.request.mode ?? 'aad'} tokens for ${c.request.workspace} until SIGINT/SIGTERM.\n`);
    await stopSignal();
    return 0;
  } finally {
    await server.close();
  }
}

/**
 * `dbx-vend exec`: one token in DATABRICKS_TOKEN for the child's lifetime (any mode: an `oauth`
 * token works there like any bearer token); a PAT is revoked when the child exits.
 */
export async function execWithToken(client: VendingClient, c: ExecCommand, io: CliIo): Promise<number> {
  const pat = c.request.mode === 'pat';
  // The token cannot be renewed under a running child: ask for the longest validity the service gives.
  const token = await client.getToken(pat ? c.request : { ...c.request, minValiditySeconds: c.request.minValiditySeconds ?? EXEC_MIN_VALIDITY_SECONDS });
  const vars = {
    DATABRICKS_HOST: token.workspace.host,
    DATABRICKS_TOKEN: token.access_token,
    DATABRICKS_AZURE_RESOURCE_ID: token.workspace.resource_id,
    DATABRICKS_AUTH_TYPE: 'pat',
  };
  try {
    return await runWith(c.command, childEnv(io.env, vars), io);
  } finally {
    if (token.token_id !== undefined) await revoke(client, c.request.workspace, token.token_id, io);
  }
}

async function runWith(command: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const outcome = await runChild(command, env);
  if (outcome.startError) io.stderr.write(`dbx-vend: ${outcome.startError}.\n`);
  return outcome.exitCode;
}

/** The caller's environment with `vars` set; Databricks credentials it held are dropped so only ours apply. */
function childEnv(env: CliIo['env'], vars: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !DROPPED.has(name)) out[name] = value;
  return { ...out, ...vars };
}

const DROPPED = new Set(['DATABRICKS_TOKEN', 'DATABRICKS_METADATA_SERVICE_URL', 'DATABRICKS_AUTH_TYPE', 'DATABRICKS_CONFIG_PROFILE', 'DATABRICKS_CLIENT_SECRET', 'DATABRICKS_PASSWORD', 'DBX_VEND_CALLER_TOKEN']);

async function revoke(client: VendingClient, workspace: string, tokenId: string, io: CliIo): Promise<void> {
  try {
    await client.revokeToken(workspace, tokenId);
    io.stderr.write(`dbx-vend: revoked PAT ${tokenId} in ${workspace}.\n`);
  } catch (err) {
    const why = isClientError(err) ? describeFailure(err).trim() : 'unexpected failure';
    io.stderr.write(`dbx-vend: could not revoke PAT ${tokenId} (${why}); it expires by itself, or run: dbx-vend revoke --workspace ${workspace} --token-id ${tokenId}\n`);
  }
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
