/** Plain aligned columns for a terminal; `--json` prints the answers as they came. */
export function table(rows: readonly Record<string, unknown>[], columns: readonly [string, (row: Record<string, unknown>) => unknown][]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((row) => columns.map(([, get]) => cell(get(row))));
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (values: readonly string[]): string => `${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`;
  return line(columns.map(([title]) => title.toUpperCase())) + cells.map(line).join('');
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (Array.isArray(value)) return value.length ? value.join(',') : '-';
  // Control characters never reach the terminal: an answer could try to rewrite the screen.
  const text = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : (JSON.stringify(value) ?? '-');
  return text.replace(/[\p{Cc}\p{Cf}]/gu, '?');
}

/** Who a grant admits, in one cell: roles, app ids, object ids. */
export function whoOf(row: Record<string, unknown>): string {
  const c = (row.callers ?? {}) as { roles?: string[]; appIds?: string[]; objectIds?: string[] };
  return [...(c.roles ?? []).map((r) => `role:${r}`), ...(c.appIds ?? []).map((a) => `app:${a}`), ...(c.objectIds ?? []).map((o) => `oid:${o}`)].join(' ');
}

export const GRANT_COLUMNS: [string, (row: Record<string, unknown>) => unknown][] = [
  ['id', (r) => r.id],
  ['workspace', (r) => r.workspace],
  ['status', (r) => r.status],
  ['admits', whoOf],
  ['modes', (r) => r.modes],
  ['max_lifetime', (r) => r.maxLifetimeSeconds],
  ['expires', (r) => (typeof r.expiresAt === 'string' ? r.expiresAt.slice(0, 16) + 'Z' : r.readOnly ? 'config' : undefined)],
  ['reason', (r) => r.reason],
];

export const REQUEST_COLUMNS: [string, (row: Record<string, unknown>) => unknown][] = [
  ['id', (r) => r.id],
  ['workspace', (r) => r.workspace],
  ['state', (r) => r.state],
  ['admits', whoOf],
  ['modes', (r) => r.modes],
  ['asked_by', (r) => (r.createdBy as { name?: string; oid?: string } | undefined)?.name ?? (r.createdBy as { oid?: string } | undefined)?.oid],
  ['reason', (r) => r.reason],
  ['grant', (r) => r.grantId],
];
