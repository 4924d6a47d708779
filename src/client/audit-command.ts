import { parseArgs } from 'node:util';
import type { AuditQuery } from './audit-client';
import type { CliIo } from './lib/cli-io';
import { EXIT } from './lib/cli-output';
import { jsonLine, tableHeader, tableRow } from './lib/audit-table';
import { UsageError } from './lib/cli-args';
import type { VendingClient } from './vending-client';

export const AUDIT_USAGE = `  dbx-vend audit [--since 24h] [--until T] [--workspace W] [--caller ID] [--outcome O]
                 [--token-id ID] [--limit N] [--json]
  dbx-vend audit lookup [--since T] [--until T] [--json]   < token
`;

const OPTIONS = {
  endpoint: { type: 'string' },
  scope: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  workspace: { type: 'string' },
  caller: { type: 'string' },
  outcome: { type: 'string' },
  'token-id': { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** What `audit lookup` may take beyond --endpoint/--scope: the range and the output form. */
const LOOKUP_OPTIONS: readonly string[] = ['endpoint', 'scope', 'since', 'until', 'json', 'help'];
/** The token read from stdin is at most this long (the service takes 12 000 characters). */
const MAX_TOKEN_CHARS = 12_000;

export type AuditIo = CliIo & { readonly stdin?: AsyncIterable<Buffer | string> };

/**
 * `dbx-vend audit …`: the audit trail for callers the service names as auditors. A readable table
 * by default (one header, then rows page by page as they arrive), JSON lines with --json; all
 * pages of the range are read. `audit lookup` reads a token from stdin, never from the command
 * line (which `ps` and shell history would keep), and prints the issuance recorded for it.
 */
export async function runAuditCommand(argv: string[], io: AuditIo, clientFor: (values: { endpoint?: string; scope?: string }) => Promise<VendingClient>): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    io.stdout.write(`Usage:\n${AUDIT_USAGE}`);
    return EXIT.ok;
  }
  const [sub, ...extra] = positionals;
  if (extra.length > 0 || (sub !== undefined && sub !== 'lookup')) throw new UsageError('audit takes no positional argument but "lookup".');
  const audit = (await clientFor(values)).audit();
  const print = values.json ? jsonLine : tableRow;
  if (sub === 'lookup') {
    const stray = Object.keys(values).find((name) => !LOOKUP_OPTIONS.includes(name));
    if (stray) throw new UsageError(`--${stray} does not apply to audit lookup.`);
    const token = await readToken(io);
    const found = await audit.lookup(token, { ...(values.since ? { since: values.since } : {}), ...(values.until ? { until: values.until } : {}) });
    if (!values.json && found.items.length > 0) io.stdout.write(tableHeader());
    for (const entry of found.items) io.stdout.write(print(entry));
    io.stderr.write(`dbx-vend: fingerprint ${found.fingerprint}: ${found.items.length} issuance${found.items.length === 1 ? '' : 's'} recorded.\n`);
    return EXIT.ok;
  }
  let rows = 0;
  for await (const entry of audit.entries(queryOf(values))) {
    if (rows === 0 && !values.json) io.stdout.write(tableHeader());
    io.stdout.write(print(entry));
    rows += 1;
  }
  if (!values.json) io.stderr.write(`dbx-vend: ${rows} row${rows === 1 ? '' : 's'}.\n`);
  return EXIT.ok;
}

function queryOf(values: Values): AuditQuery {
  if (values.limit !== undefined && !/^\d{1,4}$/.test(values.limit)) throw new UsageError('--limit must be a whole number (rows per request, 1-1000).');
  return {
    ...(values.since === undefined ? {} : { since: values.since }),
    ...(values.until === undefined ? {} : { until: values.until }),
    ...(values.workspace === undefined ? {} : { workspace: values.workspace }),
    ...(values.caller === undefined ? {} : { caller: values.caller }),
    ...(values.outcome === undefined ? {} : { outcome: values.outcome }),
    ...(values['token-id'] === undefined ? {} : { tokenId: values['token-id'] }),
    ...(values.limit === undefined ? {} : { limit: Number(values.limit) }),
  };
}

async function readToken(io: AuditIo): Promise<string> {
  let text = '';
  for await (const chunk of (io.stdin ?? process.stdin) as AsyncIterable<Buffer | string>) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.length > MAX_TOKEN_CHARS + 2) throw new UsageError(`audit lookup: the token on stdin is longer than ${MAX_TOKEN_CHARS} characters.`);
  }
  const token = text.trim();
  if (!token) throw new UsageError('audit lookup reads the token from stdin; none was given.');
  return token;
}
