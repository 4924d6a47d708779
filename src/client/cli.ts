#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { AUDIT_USAGE, runAuditCommand } from './audit-command';
import { describeFailure, EXIT, exitCodeOf, formatToken, isClientError, TOKEN_FORMATS } from './lib/cli-output';
import { oneOf, required, tokenRequestFrom, UsageError } from './lib/cli-args';
import type { CliIo } from './lib/cli-io';
import type { TokenFormat } from './lib/cli-output';
import { execWithToken, metadataServer } from './sidecar/commands';
import type { TokenCredential, VendingClientOptions } from './types';
import { VendingClient } from './vending-client';
import { VendingClientError } from './vending-client-error';
import { runGrantsCli } from './grants/grants-cli';

export type { CliIo } from './lib/cli-io';

const USAGE = `Usage:
  dbx-vend token --workspace NAME [--mode aad|pat|oauth|user] [--scopes LIST] [--min-validity S]
                 [--management-token] [--purpose TEXT] [--lifetime S] [--format json|env|header]
  dbx-vend workspaces
  dbx-vend revoke --workspace NAME --token-id ID
  dbx-vend metadata-server --workspace NAME [--mode aad|oauth|user] [--scopes LIST] [--port N]
                 [--min-validity S] [--exec -- COMMAND [ARGS...]]
  dbx-vend exec --workspace NAME [--mode aad|pat|oauth|user] [--scopes LIST] [--min-validity S]
                [--lifetime S] [--purpose TEXT] -- COMMAND [ARGS...]
${AUDIT_USAGE}
Modes: aad (the service principal's Entra ID token), pat (a revocable PAT), oauth (a Databricks
OAuth token for this workspace and the given API scopes only), user (your own token, on-behalf-of).
--scopes (oauth, pat): Databricks API scopes, repeated or comma-separated, e.g.
  --scopes clusters:read,sql; without it the grant's default scopes apply.
  dbx-vend grants list|create|revoke|renew|request|requests|approve|decline ...  (dbx-vend grants --help)

Options for every command:
  --endpoint URL   vending API base, e.g. https://func-x.azurewebsites.net/api (env DBX_VEND_ENDPOINT)
  --scope SCOPE    the vending API's Entra ID scope, e.g. api://<vending API app id>/.default
                   (env DBX_VEND_SCOPE; required unless DBX_VEND_CALLER_TOKEN is set)
  --help

The caller token comes from DBX_VEND_CALLER_TOKEN if set, else from DefaultAzureCredential
(az login, managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, ...).

  eval "$(dbx-vend token --workspace analytics-prod --format env)"   # DATABRICKS_HOST, DATABRICKS_TOKEN, ...

metadata-server serves fresh tokens to any Databricks SDK, CLI or Terraform (auth type
metadata-service) on 127.0.0.1 at a random path; it prints DATABRICKS_HOST,
DATABRICKS_METADATA_SERVICE_URL and DATABRICKS_AUTH_TYPE, or with --exec runs COMMAND with them.
exec runs COMMAND with DATABRICKS_HOST and DATABRICKS_TOKEN set; a PAT is revoked when it exits.
Both forward SIGINT/SIGTERM/SIGHUP to COMMAND and exit with its exit code.

The token is written to stdout only; diagnostics go to stderr.
Exit codes: 0 ok, 2 usage, 3 refused (4xx, no caller credential), 4 unavailable (5xx, network).
`;

const OPTIONS = {
  endpoint: { type: 'string' },
  scope: { type: 'string' },
  workspace: { type: 'string' },
  mode: { type: 'string' },
  scopes: { type: 'string', multiple: true },
  'min-validity': { type: 'string' },
  'management-token': { type: 'boolean' },
  purpose: { type: 'string' },
  lifetime: { type: 'string' },
  format: { type: 'string' },
  'token-id': { type: 'string' },
  port: { type: 'string' },
  exec: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Which options each command takes, beyond --endpoint, --scope and --help. */
const COMMANDS: Readonly<Record<string, readonly (keyof Values)[]>> = {
  token: ['workspace', 'mode', 'scopes', 'min-validity', 'management-token', 'purpose', 'lifetime', 'format'],
  workspaces: [],
  revoke: ['workspace', 'token-id'],
  'metadata-server': ['workspace', 'mode', 'scopes', 'port', 'min-validity', 'exec'],
  exec: ['workspace', 'mode', 'scopes', 'min-validity', 'lifetime', 'purpose'],
};

/** The refresh margin of `metadata-server` by default: far beyond the SDKs' 40 s. */
const METADATA_MIN_VALIDITY_SECONDS = 300;

/** Runs one `dbx-vend` command; resolves to the exit code and never rejects. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'grants') return runGrantsCli(argv.slice(1), io);
  try {
    if (argv[0] === 'audit') return await runAuditCommand(argv.slice(1), io, async (v) => createClient(await clientOptions(v, io.env)));
    // Everything after the first `--` is the child command of exec / metadata-server --exec.
    const dash = argv.indexOf('--');
    const own = dash < 0 ? argv : argv.slice(0, dash);
    const child = dash < 0 ? undefined : argv.slice(dash + 1);
    const { values, positionals } = parseArgs({ args: own, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
    const command = checkCommand(positionals, values);
    const childCommand = checkChildCommand(command, values, child);
    const client = createClient(await clientOptions(values, io.env));
    return await runCommand(command, client, values, io, childCommand);
  } catch (err) {
    return reportFailure(err, io);
  }
}

function checkCommand(positionals: string[], values: Values): string {
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError('a command is required (token, workspaces, revoke, metadata-server or exec).');
  const allowed = COMMANDS[command];
  if (!allowed) throw new UsageError('unknown command; expected token, workspaces, revoke, metadata-server or exec.');
  if (extra.length > 0) throw new UsageError(`${command} takes no positional arguments.`);
  const common: readonly string[] = ['endpoint', 'scope', 'help'];
  const stray = Object.keys(values).find((name) => !common.includes(name) && !allowed.includes(name as keyof Values));
  if (stray) throw new UsageError(`--${stray} does not apply to ${command}.`);
  return command;
}

/** exec and metadata-server --exec need `-- COMMAND`; nothing else takes one. */
function checkChildCommand(command: string, values: Values, child: string[] | undefined): string[] | undefined {
  const wanted = command === 'exec' || (command === 'metadata-server' && values.exec === true);
  if (!wanted && child !== undefined) throw new UsageError(command === 'metadata-server' ? 'a command after -- needs --exec.' : `${command} takes no command after --.`);
  if (wanted && (child === undefined || child.length === 0)) throw new UsageError(`${command === 'exec' ? 'exec' : '--exec'} needs a command after --.`);
  return child;
}

async function clientOptions(values: Values, env: CliIo['env']): Promise<VendingClientOptions> {
  const endpoint = values.endpoint ?? env.DBX_VEND_ENDPOINT;
  if (!endpoint) throw new UsageError('--endpoint (or DBX_VEND_ENDPOINT) is required.');
  const scope = values.scope ?? env.DBX_VEND_SCOPE;
  const callerToken = env.DBX_VEND_CALLER_TOKEN;
  if (callerToken) return { endpoint, ...(scope ? { scope } : {}), getCallerToken: () => Promise.resolve(callerToken) };
  // No default: the vending API's identifier URI differs per deployment (api://<app id> by default).
  if (!scope) throw new UsageError("--scope (or DBX_VEND_SCOPE) is required: the vending API's Entra ID scope, e.g. api://<vending API app id>/.default.");
  return { endpoint, scope, credential: await defaultAzureCredential() };
}

/**
 * Loaded only when needed: CI runs with DBX_VEND_CALLER_TOKEN need not pay for it, and a
 * caller-only install (no optional dependencies) has no @azure/identity at all.
 */
async function defaultAzureCredential(): Promise<TokenCredential> {
  const identity = await import('@azure/identity').catch((cause: unknown) => {
    throw new VendingClientError('@azure/identity is not installed beside dbx-vend (install it with optional dependencies).', { code: 'credential_unavailable', cause });
  });
  return new identity.DefaultAzureCredential();
}

/** The client refuses a bad endpoint with a TypeError: for the CLI that is a usage error. */
function createClient(options: VendingClientOptions): VendingClient {
  try {
    return new VendingClient(options);
  } catch (err) {
    throw err instanceof TypeError ? new UsageError(err.message) : err;
  }
}

async function runCommand(command: string, client: VendingClient, values: Values, io: CliIo, child: string[] | undefined): Promise<number> {
  if (command === 'metadata-server') {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!/^\d{1,5}$/.test(values.port ?? '0') || port > 65535) throw new UsageError('--port must be a port number (0-65535).');
    // A PAT per refresh would pile up PATs: the metadata server serves the cached modes only.
    const request = tokenRequestFrom(values, ['aad', 'oauth', 'user']);
    const minValiditySeconds = request.minValiditySeconds ?? METADATA_MIN_VALIDITY_SECONDS;
    return metadataServer(client, { request: { ...request, minValiditySeconds }, port, command: child }, io);
  }
  if (command === 'exec') {
    const request = tokenRequestFrom(values);
    if (request.mode === 'pat' && request.minValiditySeconds !== undefined) throw new UsageError('--min-validity does not apply to --mode pat; a PAT lasts --lifetime.');
    return execWithToken(client, { request, command: child ?? [] }, io);
  }
  await runSimpleCommand(command, client, values, io);
  return EXIT.ok;
}

async function runSimpleCommand(command: string, client: VendingClient, values: Values, io: CliIo): Promise<void> {
  if (command === 'workspaces') {
    io.stdout.write(`${JSON.stringify(await client.listWorkspaces(), null, 2)}\n`);
  } else if (command === 'revoke') {
    const workspace = required(values.workspace, 'workspace');
    const tokenId = required(values['token-id'], 'token-id');
    await client.revokeToken(workspace, tokenId);
    io.stderr.write(`dbx-vend: revoked token ${tokenId} in ${workspace}.\n`);
  } else {
    const format = oneOf<TokenFormat>(values.format ?? 'json', TOKEN_FORMATS, 'format');
    const token = await client.getToken(tokenRequestFrom(values));
    io.stdout.write(formatToken(token, format));
  }
}

function reportFailure(err: unknown, io: CliIo): number {
  if (isClientError(err)) {
    io.stderr.write(describeFailure(err));
    return exitCodeOf(err);
  }
  if (err instanceof UsageError || isParseArgsError(err)) {
    io.stderr.write(`dbx-vend: ${err.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  io.stderr.write(`dbx-vend: unexpected ${err instanceof Error ? err.name : 'failure'}; no details are printed because they might hold a secret.\n`);
  return EXIT.unexpected;
}

function isParseArgsError(err: unknown): err is Error {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS_');
}

if (require.main === module) {
  runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = EXIT.unexpected;
    },
  );
}
