import { parseArgs } from 'node:util';
import type { CliIo } from '../lib/cli-io';
import { describeFailure, EXIT, exitCodeOf, isClientError } from '../lib/cli-output';
import { VendingClientError } from '../vending-client-error';
import { GrantsClient } from './grants-client';
import { GRANT_COLUMNS, REQUEST_COLUMNS, table } from './grants-table';

export const GRANTS_USAGE = `Usage: dbx-vend grants <command> [options] [--json]
  list      [--workspace NAME] [--status active|expired|revoked]
  create    --workspace NAME (--app-id ID | --object-id ID | --role ROLE)... --reason TEXT
            [--mode aad|pat]... [--max-lifetime S] [--management-token] [--tenant ID]... [--expires 30d|ISO-TIME]
  revoke    --id GRANT_ID
  renew     --id GRANT_ID [--expires 30d|ISO-TIME] [--reason TEXT]
  request   --workspace NAME --reason TEXT [--mode aad|pat]... [--max-lifetime S] [--management-token]
            [--app-id ID | --object-id ID | --role ROLE]... [--expires 30d|ISO-TIME]
            (who it admits defaults to the caller itself)
  requests  [--workspace NAME] [--state pending|approved|declined|all]
            (with --workspace: that workspace's requests, for its owners; without: your own)
  approve   --id REQUEST_ID [--mode aad|pat]... [--max-lifetime S] [--expires ...] [--note TEXT]
            (only narrower than asked)
  decline   --id REQUEST_ID [--note TEXT]
--endpoint, --scope and the caller token as for every dbx-vend command. Exit codes as for every command.
`;

const OPTIONS = {
  endpoint: { type: 'string' }, scope: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  workspace: { type: 'string' }, status: { type: 'string' }, state: { type: 'string' }, id: { type: 'string' },
  'app-id': { type: 'string', multiple: true }, 'object-id': { type: 'string', multiple: true }, role: { type: 'string', multiple: true },
  tenant: { type: 'string', multiple: true }, mode: { type: 'string', multiple: true }, 'max-lifetime': { type: 'string' },
  'management-token': { type: 'boolean' }, expires: { type: 'string' }, reason: { type: 'string' }, note: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
type Io = CliIo;

class GrantsUsageError extends Error {
  override readonly name = 'GrantsUsageError' as const;
}

/** `dbx-vend grants …`; resolves to the exit code and never rejects. */
export async function runGrantsCli(argv: string[], io: Io): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) return void io.stdout.write(GRANTS_USAGE), EXIT.ok;
    const [command, ...extra] = positionals;
    if (!command || !(command in COMMANDS) || extra.length > 0) throw new GrantsUsageError('expected one of: list, create, revoke, renew, request, requests, approve, decline.');
    const client = await makeClient(values, io.env);
    const run = COMMANDS[command];
    if (!run) throw new GrantsUsageError('unknown command.');
    const answer = await run(client, values);
    io.stdout.write(values.json ? `${JSON.stringify(answer.body, null, 2)}\n` : answer.text);
    return EXIT.ok;
  } catch (err) {
    if (isClientError(err)) return void io.stderr.write(describeFailure(err)), exitCodeOf(err);
    if (err instanceof GrantsUsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS_'))) {
      return void io.stderr.write(`dbx-vend grants: ${err.message}\n\n${GRANTS_USAGE}`), EXIT.usage;
    }
    io.stderr.write(`dbx-vend grants: unexpected ${err instanceof Error ? err.name : 'failure'}; no details are printed because they might hold a secret.\n`);
    return EXIT.unexpected;
  }
}

type Command = (client: GrantsClient, v: Values) => Promise<{ body: unknown; text: string }>;

const COMMANDS: Readonly<Record<string, Command>> = {
  list: async (c, v) => shown(await c.list(pick({ workspace: v.workspace, status: v.status })), GRANT_COLUMNS),
  create: async (c, v) => shown([await c.create({ workspace: need(v.workspace, 'workspace'), callers: callers(v, true), ...grantFields(v), reason: need(v.reason, 'reason') })], GRANT_COLUMNS, true),
  revoke: async (c, v) => shown([await c.revoke(need(v.id, 'id'))], GRANT_COLUMNS, true),
  renew: async (c, v) => shown([await c.renew(need(v.id, 'id'), pick({ expiresAt: expiry(v.expires), reason: v.reason }))], GRANT_COLUMNS, true),
  request: async (c, v) => shown([await c.request({ workspace: need(v.workspace, 'workspace'), ...pick({ callers: callers(v, false) }), ...grantFields(v), reason: need(v.reason, 'reason') })], REQUEST_COLUMNS, true),
  requests: async (c, v) => shown(await c.requests(pick({ workspace: v.workspace, state: v.state })), REQUEST_COLUMNS),
  approve: async (c, v) => {
    const answer = await c.decide(need(v.id, 'id'), 'approve', { ...grantFields(v), ...pick({ note: v.note }) });
    return { body: answer, text: table([answer.grant as Record<string, unknown>], GRANT_COLUMNS) };
  },
  decline: async (c, v) => shown([await c.decide(need(v.id, 'id'), 'decline', pick({ note: v.note }))], REQUEST_COLUMNS, true),
};

function shown(rows: Record<string, unknown>[], columns: typeof GRANT_COLUMNS, single = false): { body: unknown; text: string } {
  return { body: single ? rows[0] : rows, text: table(rows, columns) };
}

function grantFields(v: Values): Record<string, unknown> {
  return pick({
    tenants: v.tenant,
    modes: v.mode,
    maxLifetimeSeconds: v['max-lifetime'] === undefined ? undefined : seconds(v['max-lifetime']),
    managementToken: v['management-token'],
    expiresAt: expiry(v.expires),
  });
}

function callers(v: Values, required: boolean): Record<string, string[]> | undefined {
  const who = { roles: v.role ?? [], appIds: v['app-id'] ?? [], objectIds: v['object-id'] ?? [] };
  if (who.roles.length + who.appIds.length + who.objectIds.length > 0) return who;
  if (required) throw new GrantsUsageError('name who the grant admits: --app-id, --object-id or --role.');
  return undefined;
}

/** `30d` (days from now) or an ISO 8601 time, passed on as an ISO time. */
function expiry(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const days = /^(\d{1,4})d$/.exec(value)?.[1];
  if (days) return new Date(Date.now() + Number(days) * 86_400_000).toISOString();
  if (Number.isNaN(Date.parse(value))) throw new GrantsUsageError('--expires must be a number of days (30d) or an ISO 8601 time.');
  return value;
}

function seconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new GrantsUsageError('--max-lifetime must be a whole number of seconds.');
  return Number(value);
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new GrantsUsageError(`--${name} is required.`);
  return value;
}

function pick<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function makeClient(values: Values, env: Io['env']): Promise<GrantsClient> {
  const endpoint = values.endpoint ?? env.DBX_VEND_ENDPOINT;
  if (!endpoint) throw new GrantsUsageError('--endpoint (or DBX_VEND_ENDPOINT) is required.');
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  const loopback = url !== undefined && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) throw new GrantsUsageError('--endpoint must be an https URL (http only on loopback).');
  const scope = values.scope ?? env.DBX_VEND_SCOPE ?? '';
  const token = env.DBX_VEND_CALLER_TOKEN;
  if (token) return new GrantsClient({ endpoint, scope, getCallerToken: () => Promise.resolve(token) });
  if (!scope) throw new GrantsUsageError("--scope (or DBX_VEND_SCOPE) is required: the vending API's Entra ID scope, e.g. api://<vending API app id>/.default.");
  // Loaded only when needed, as for every command: a caller-only install has no @azure/identity.
  const identity = await import('@azure/identity').catch((cause: unknown) => {
    throw new VendingClientError('@azure/identity is not installed beside dbx-vend (install it with optional dependencies).', { code: 'credential_unavailable', cause });
  });
  return new GrantsClient({ endpoint, scope, credential: new identity.DefaultAzureCredential() });
}
