// Which Databricks API scope each sandbox route belongs to, and whether a token's scopes allow a
// call: `all-apis` allows everything; a bare scope all of its operations; `:read` its GET/HEAD
// operations only. (`:restricted-query` concerns SQL statements, which the sandbox does not serve.)

const ROUTE_SCOPES: Readonly<Record<string, string | null>> = {
  // The caller's own identity is readable with any scope (Databricks lists "Me" under many scopes).
  '/api/2.0/preview/scim/v2/Me': null,
  '/api/2.0/clusters/list': 'clusters',
  '/api/2.0/clusters/create': 'clusters',
  '/api/2.0/token/create': 'authentication',
  '/api/2.0/token/delete': 'authentication',
  '/api/2.0/token/list': 'authentication',
};

/** The scope a call needs (undefined: none, any authenticated caller) — or null when the route is unknown. */
export function requiredScope(path: string): string | null | undefined {
  if (!Object.hasOwn(ROUTE_SCOPES, path)) return undefined;
  return ROUTE_SCOPES[path];
}

export function scopesAllow(tokenScopes: readonly string[], method: string, path: string): { ok: true } | { ok: false; needed: string } {
  const needed = requiredScope(path);
  if (!needed) return { ok: true };
  const read = method === 'GET' || method === 'HEAD';
  for (const granted of tokenScopes) {
    if (granted === 'all-apis') return { ok: true };
    const [name, ...mods] = granted.split(':');
    if (name !== needed) continue;
    if (mods.length === 0 || (read && mods.includes('read'))) return { ok: true };
  }
  return { ok: false, needed };
}
