import type { AuditEntry } from '../audit-client';

/** Columns of `dbx-vend audit`'s table: [heading, width, cell]. Fixed widths, so pages print as they come. */
const COLUMNS: readonly [string, number, (e: AuditEntry) => unknown][] = [
  ['TIME', 24, (e) => e.time],
  ['OUTCOME', 10, (e) => e.outcome],
  ['STATUS', 6, (e) => e.status],
  ['CODE', 22, (e) => e.code],
  ['WORKSPACE', 20, (e) => e.workspace],
  ['MODE', 5, (e) => e.mode],
  ['CALLER', 36, (e) => e.caller_name ?? e.caller_appid ?? e.caller_oid],
  ['TOKEN_ID', 36, (e) => e.token_id],
  ['REQUEST_ID', 36, (e) => e.request_id],
];

/** Control and bidi characters would let a stored value rewrite the operator's terminal. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point: they are replaced
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function tableHeader(): string {
  return line(COLUMNS.map(([heading]) => heading));
}

export function tableRow(entry: AuditEntry): string {
  return line(COLUMNS.map(([, , cell]) => cell(entry)));
}

/** `--json`: one object per line; JSON escapes every control character. */
export function jsonLine(entry: AuditEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

function line(cells: readonly unknown[]): string {
  return `${cells.map((value, i) => fit(value, COLUMNS[i]?.[1] ?? 10, i === cells.length - 1)).join(' ')}\n`;
}

function fit(value: unknown, width: number, last: boolean): string {
  const text = value === undefined || value === null || value === '' ? '-' : textOf(value).replace(UNSAFE, '?');
  const cut = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return last ? cut : cut.padEnd(width);
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}
