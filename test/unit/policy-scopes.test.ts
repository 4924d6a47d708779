import { describe, expect, it } from 'vitest';
import { NotGrantedError } from '../../src/core/errors';
import { apiScopeProblem, grantScopes, normalizeScopes, parseApiScope, scopeCovers } from '../../src/core/policy';

// The Databricks API scope rules a grant is checked with: the syntax operators are told about at
// start-up, what a granted scope covers, and what a caller is refused with.
describe('parseApiScope', () => {
  it.each(['a', 'a1-b', 'sql', `a${'b'.repeat(63)}`])('accepts the name %j', (name) => {
    expect(parseApiScope(name)).toEqual({ name, modifiers: new Set() });
  });

  it('returns the modifiers it read', () => {
    expect(parseApiScope('sql:read:restricted-query')).toEqual({ name: 'sql', modifiers: new Set(['read', 'restricted-query']) });
  });

  it.each([['1sql'], ['-sql'], ['sql_x'], ['Sql'], [`a${'b'.repeat(64)}`], [' sql'], ['sql '], [''], [':read'], ['sql!']])('refuses the name %j', (text) => {
    expect(apiScopeProblem(text)).toBe(`"${text}" is not a Databricks API scope (lower-case name, optional :read or :restricted-query)`);
  });

  it('says which rule a modifier breaks', () => {
    expect(apiScopeProblem('clusters:write')).toBe('"clusters:write" has an unknown modifier (known: read, restricted-query)');
    expect(apiScopeProblem('sql:')).toBe('"sql:" has an unknown modifier (known: read, restricted-query)');
    expect(apiScopeProblem('sql:read:read')).toBe('"sql:read:read" repeats a modifier');
    expect(apiScopeProblem('jobs:restricted-query')).toBe('"jobs:restricted-query": restricted-query applies to the sql scope only');
    expect(apiScopeProblem('all-apis:read')).toBe('"all-apis:read": all-apis takes no modifier');
  });

  it('quotes at most 80 characters of what it refuses', () => {
    const text = `${'x'.repeat(100)}:bad`;
    expect(apiScopeProblem(text)).toBe(`"${'x'.repeat(80)}" is not a Databricks API scope (lower-case name, optional :read or :restricted-query)`);
  });
});

describe('scopeCovers', () => {
  it('covers nothing when either side is not a scope, even all-apis', () => {
    expect(scopeCovers('all-apis', 'SQL')).toBe(false);
    expect(scopeCovers('sql!', 'sql')).toBe(false);
    expect(scopeCovers('sql', 'sql:write')).toBe(false);
  });

  it('a scope with modifiers covers the same or fewer modifiers of its own name only', () => {
    expect(scopeCovers('sql:read', 'sql:read')).toBe(true);
    expect(scopeCovers('sql:read', 'sql:restricted-query')).toBe(false);
    expect(scopeCovers('sql:read', 'sql:read:restricted-query')).toBe(false);
    expect(scopeCovers('sql:read:restricted-query', 'sql:read:restricted-query')).toBe(true);
    expect(scopeCovers('clusters:read', 'jobs:read')).toBe(false);
    expect(scopeCovers('sql', 'sql')).toBe(true);
  });
});

describe('normalizeScopes', () => {
  it('sorts and de-duplicates, leaving its input alone', () => {
    const input = ['sql', 'clusters:read', 'sql', 'all-apis'];
    expect(normalizeScopes(input)).toEqual(['all-apis', 'clusters:read', 'sql']);
    expect(input).toEqual(['sql', 'clusters:read', 'sql', 'all-apis']);
  });
});

describe('grantScopes', () => {
  const detail = (run: () => unknown): string => {
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(NotGrantedError);
      return (err as NotGrantedError).detail;
    }
    throw new Error('expected a refusal');
  };

  it('the request wins over the default, even an empty one', () => {
    expect(grantScopes('ws', ['sql', 'jobs'], ['sql'], ['jobs'])).toEqual(['jobs']);
    expect(detail(() => grantScopes('ws', ['sql'], ['sql'], []))).toBe(`No scopes were asked for and this caller's grant for "ws" names no default; allowed scopes: sql.`);
  });

  it('names the scopes beyond the grant and the allowed ones, or none', () => {
    expect(detail(() => grantScopes('ws', ['sql:read', 'jobs'], [], ['clusters', 'sql', 'jobs']))).toBe(`Scopes clusters, sql are beyond this caller's grant for "ws"; allowed scopes: sql:read, jobs.`);
    expect(detail(() => grantScopes('ws', [], [], ['sql']))).toBe(`Scopes sql are beyond this caller's grant for "ws"; allowed scopes: none.`);
    expect(detail(() => grantScopes('ws', [], [], undefined))).toBe(`No scopes were asked for and this caller's grant for "ws" names no default; allowed scopes: none.`);
  });

  it('a request is granted when any one allowed scope covers each scope asked for', () => {
    expect(grantScopes('ws', ['jobs', 'sql:read', 'all-apis'], [], ['clusters'])).toEqual(['clusters']);
    expect(grantScopes('ws', ['jobs', 'sql:read'], [], ['sql:read', 'jobs:read'])).toEqual(['jobs:read', 'sql:read']);
  });
});
