import type { CliIo } from '../lib/cli-io';
import { describeFailure, envLines, isClientError } from '../lib/cli-output';
import type { VendedToken } from '../types';
import type { VendingClient } from '../vending-client';
import { startMetadataServer } from './metadata-server';
import { runChild } from './run-child';
import { TokenKeeper } from './token-keeper';

/** The most `min_validity_seconds` the vending API accepts (DESIGN §2). */
const EXEC_MIN_VALIDITY_SECONDS = 3000;

export interface MetadataServerCommand {
  readonly workspace: string;
  readonly port: number;
  /** The served token has at least this long left (plus the client's skew); refreshed when it has less. */
  readonly minValiditySeconds: number;
  /** `--exec -- <command…>`: run it with the variables set, stop with it. */
  readonly command: readonly string[] | undefined;
}

export interface ExecCommand {
  readonly workspace: string;
  readonly mode: 'aad' | 'pat';
  readonly minValiditySeconds: number | undefined;
  readonly lifetimeSeconds: number | undefined;
  readonly purpose: string | undefined;
  readonly command: readonly string[];
}

/**
 * `dbx-vend metadata-server`: the first token is vended before anything is printed or started,
 * so a missing grant fails at once (stderr, non-zero, nothing on stdout).
 */
export async function metadataServer(client: VendingClient, c: MetadataServerCommand, io: CliIo): Promise<number> {
  const fetch = (): Promise<VendedToken> => client.getToken({ workspace: c.workspace, mode: 'aad', minValiditySeconds: c.minValiditySeconds });
  const keeper = new TokenKeeper({ fetch, nowMs: () => Date.now(), log: (line) => io.stderr.write(line) });
  const first = await fetch();
  await keeper.current();
  const server = await startMetadataServer({ host: first.workspace.host, port: c.port, keeper });
  const vars = { DATABRICKS_HOST: first.workspace.host, DATABRICKS_METADATA_SERVICE_URL: server.url, DATABRICKS_AUTH_TYPE: 'metadata-service' };
  try {
    if (c.command) return await runWith(c.command, childEnv(io.env, vars), io);
    io.stdout.write(envLines(vars));
    io.stderr.write(`dbx-vend: serving tokens for ${c.workspace} until SIGINT/SIGTERM.\n`);
    await stopSignal();
    return 0;
  } finally {
    await server.close();
  }
}

/** `dbx-vend exec`: one token in DATABRICKS_TOKEN for the child's lifetime; a PAT is revoked when it exits. */
export async function execWithToken(client: VendingClient, c: ExecCommand, io: CliIo): Promise<number> {
  const token = await client.getToken({
    workspace: c.workspace,
    mode: c.mode,
    // The token cannot be renewed under a running child: ask for the longest validity the service gives.
    ...(c.mode === 'aad' ? { minValiditySeconds: c.minValiditySeconds ?? EXEC_MIN_VALIDITY_SECONDS } : {}),
    ...(c.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: c.lifetimeSeconds }),
    ...(c.purpose === undefined ? {} : { purpose: c.purpose }),
  });
  const vars = {
    DATABRICKS_HOST: token.workspace.host,
    DATABRICKS_TOKEN: token.access_token,
    DATABRICKS_AZURE_RESOURCE_ID: token.workspace.resource_id,
    DATABRICKS_AUTH_TYPE: 'pat',
  };
  try {
    return await runWith(c.command, childEnv(io.env, vars), io);
  } finally {
    if (token.token_id !== undefined) await revoke(client, c.workspace, token.token_id, io);
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
