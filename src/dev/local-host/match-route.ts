/**
 * A Functions route template such as `token/{workspace}/{token_id}`, parsed once: the matcher of a
 * path (after `/api/`) gives the template's parameters, or undefined.
 */
export function compileRoute(template: string): (path: string) => Record<string, string> | undefined {
  const want = template.split('/').map((part) => ({ literal: part.toLowerCase(), name: /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part)?.[1] }));
  return (path) => match(want, path);
}

function match(want: readonly { literal: string; name: string | undefined }[], path: string): Record<string, string> | undefined {
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, { literal, name }] of want.entries()) {
    const segment = got[i] ?? '';
    if (name) {
      if (!segment) return undefined;
      try {
        params[name] = decodeURIComponent(segment);
      } catch {
        return undefined;
      }
    } else if (literal !== segment.toLowerCase()) {
      return undefined;
    }
  }
  return params;
}
