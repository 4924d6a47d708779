/** Shapes of secrets that must never reach an error message: JWTs, Databricks PATs, bearer values. */
const SECRET_SHAPES = [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g, /dapi[0-9a-f]{16,}(?:-\d+)?/gi, /\b(Bearer|Basic)\s+\S+/gi];
const MAX_DETAIL = 300;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The service promises a `detail` without secrets; this client does not rely on it, because the
 * message of an error ends up in logs. Anything token-shaped goes, control characters go, and the
 * length is capped.
 */
export function redactDetail(detail: string): string {
  let text = Array.from(detail, (c) => (c < ' ' || c === '\u007f' ? ' ' : c)).join('');
  for (const shape of SECRET_SHAPES) text = text.replace(shape, '[redacted]');
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text;
}

/** A request id as DESIGN §2 allows it, else undefined: it is quoted in messages. */
export function cleanRequestId(value: unknown): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}
