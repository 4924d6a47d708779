/** `JSON.rawJSON` (Node 21+): a value `JSON.stringify` writes as the JSON text it holds, unescaped again. */
interface RawJsonApi {
  readonly rawJSON?: (text: string) => unknown;
}

const rawJSON = (JSON as RawJsonApi).rawJSON;

/** Shorter strings are escaped on each reply: it costs next to nothing (a PAT is 36 characters). */
const MIN_LENGTH = 256;
/**
 * Tokens whose JSON is kept; the memo is emptied when full (a cache of hot tokens, not a store).
 * It holds in memory what the token caches hold, and a token past its life until the memo is next
 * emptied: never anything that leaves the process.
 */
const MAX_KEPT = 256;

export interface TokenJson {
  /** `access_token`'s value. */
  readonly token: unknown;
  /** The `Authorization` header value, `Bearer <token>`. */
  readonly bearer: unknown;
}

const kept = new Map<string, TokenJson>();

/**
 * The token's two appearances in a 200 body, escaped for JSON once per token rather than on
 * every reply. A warm vend hands out the same cached token again and again, and `JSON.stringify`
 * escaping a ~2 KB JWT twice per reply took ~12 µs, about 5 % of a warm vend's CPU (Node 22).
 * The body serializes to exactly the same text; without `JSON.rawJSON` the plain strings are used.
 */
export function tokenJson(token: string): TokenJson {
  if (!rawJSON || token.length < MIN_LENGTH) return { token, bearer: `Bearer ${token}` };
  const hit = kept.get(token);
  if (hit) return hit;
  if (kept.size >= MAX_KEPT) kept.clear();
  const made = { token: rawJSON(JSON.stringify(token)), bearer: rawJSON(JSON.stringify(`Bearer ${token}`)) };
  kept.set(token, made);
  return made;
}
