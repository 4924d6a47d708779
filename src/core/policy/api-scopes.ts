import { NotGrantedError } from '../errors';

// Databricks API scopes (e.g. `sql`, `clusters`, `all-apis`) with optional modifiers after a
// colon: `:read` (GET/HEAD operations only) and `:restricted-query` (read-only SQL, `sql` only).
// Modifiers combine as a union of what each allows: `sql:read:restricted-query` is the read
// operations plus read-only queries. A scope without a modifier allows all of its operations.

/** At most 80 characters of the text, quoted, for a problem message. */
const quoted = (text: string): string => `"${text.slice(0, 80)}"`;

export interface ApiScope {
  readonly name: string;
  /** Empty: every operation of the scope. */
  readonly modifiers: ReadonlySet<string>;
}

/** The parsed scope, or a reason it is not Databricks scope syntax. */
export function parseApiScope(text: string): ApiScope | string {
  // split always yields at least one element.
  const [name, ...mods] = text.split(':') as [string, ...string[]];
  // The syntax is checked inside the function (not in module constants), so each rule is tested where it is used.
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) return `${quoted(text)} is not a Databricks API scope (lower-case name, optional :read or :restricted-query)`;
  if (mods.some((m) => m !== 'read' && m !== 'restricted-query')) return `${quoted(text)} has an unknown modifier (known: read, restricted-query)`;
  if (new Set(mods).size !== mods.length) return `${quoted(text)} repeats a modifier`;
  if (mods.includes('restricted-query') && name !== 'sql') return `${quoted(text)}: restricted-query applies to the sql scope only`;
  if (name === 'all-apis' && mods.length > 0) return `${quoted(text)}: all-apis takes no modifier`;
  return { name, modifiers: new Set(mods) };
}

export function apiScopeProblem(text: string): string | undefined {
  const parsed = parseApiScope(text);
  return typeof parsed === 'string' ? parsed : undefined;
}

/** Sorted, de-duplicated: one spelling per scope set, so it can key a cache and compare in audits. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes)].sort();
}

/** Whether a granted scope allows everything the requested one does. */
export function scopeCovers(granted: string, requested: string): boolean {
  const g = parseApiScope(granted);
  const r = parseApiScope(requested);
  if (typeof g === 'string' || typeof r === 'string') return false;
  if (g.name === 'all-apis') return true;
  if (g.name !== r.name) return false;
  if (g.modifiers.size === 0) return true;
  return r.modifiers.size > 0 && [...r.modifiers].every((m) => g.modifiers.has(m));
}

/**
 * The scopes a token gets: the requested ones (or the grant's default), each covered by a
 * granted scope. Anything beyond the grant is refused with the allowed scopes in the detail.
 */
export function grantScopes(workspace: string, allowed: readonly string[], defaults: readonly string[], requested: readonly string[] | undefined): string[] {
  const wanted = normalizeScopes(requested ?? defaults);
  const listed = allowed.length ? allowed.join(', ') : 'none';
  if (wanted.length === 0) {
    throw new NotGrantedError({ detail: `No scopes were asked for and this caller's grant for "${workspace}" names no default; allowed scopes: ${listed}.` });
  }
  const beyond = wanted.filter((s) => !allowed.some((a) => scopeCovers(a, s)));
  if (beyond.length > 0) {
    throw new NotGrantedError({ detail: `Scopes ${beyond.join(', ')} are beyond this caller's grant for "${workspace}"; allowed scopes: ${listed}.` });
  }
  return wanted;
}
