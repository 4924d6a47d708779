// Databricks API scopes as the vending API accepts them (its request schema): a lower-case name
// (`sql`, `clusters`, `all-apis`, …) with optional modifiers `:read` and `:restricted-query`
// (`sql` only); `all-apis` takes none. Checked here too, so a typo is a usage error at once and
// never a round trip. The client depends on nothing of the service, hence this small copy.

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const MODIFIERS = new Set(['read', 'restricted-query']);
const MAX_SCOPES = 32;
const MAX_LENGTH = 100;

/** Why `text` is not a Databricks API scope, or undefined when it is one. */
export function apiScopeProblem(text: string): string | undefined {
  const shown = JSON.stringify(text.slice(0, 80));
  if (text.length > MAX_LENGTH) return `${shown}… is longer than ${MAX_LENGTH} characters`;
  const [name = '', ...mods] = text.split(':');
  if (!NAME.test(name)) return `${shown} is not a Databricks API scope (lower-case name, optional :read or :restricted-query)`;
  if (mods.some((m) => !MODIFIERS.has(m))) return `${shown} has an unknown modifier (known: read, restricted-query)`;
  if (new Set(mods).size !== mods.length) return `${shown} repeats a modifier`;
  if (mods.includes('restricted-query') && name !== 'sql') return `${shown}: restricted-query applies to the sql scope only`;
  if (name === 'all-apis' && mods.length > 0) return `${shown}: all-apis takes no modifier`;
  return undefined;
}

/**
 * The scope set of a request: every scope checked, de-duplicated and sorted, so one set has one
 * spelling (it keys the token cache). Throws a TypeError naming the first bad scope.
 */
export function normalizeApiScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw new TypeError('scopes must name at least one Databricks API scope.');
  for (const scope of scopes) {
    const problem = typeof scope === 'string' ? apiScopeProblem(scope) : 'a scope is not a string';
    if (problem) throw new TypeError(`scopes: ${problem}.`);
  }
  const set = [...new Set(scopes)].sort();
  if (set.length > MAX_SCOPES) throw new TypeError(`scopes: at most ${MAX_SCOPES} scopes.`);
  return set;
}

/** `--scopes` values as typed: repeated flags, comma lists, or both (`--scopes sql --scopes clusters:read,jobs`). */
export function splitScopeArgs(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}
