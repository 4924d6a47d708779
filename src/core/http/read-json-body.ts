import type { z } from 'zod';
import { BodyTooLargeError, InvalidRequestError, UnsupportedMediaTypeError } from '../errors';

export const MAX_BODY_BYTES = 16 * 1024;

/** What the trigger hands the core: the raw pieces of a request, nothing framework-specific. */
export interface IncomingBody {
  readonly contentType: string | null;
  /**
   * Resolves to the body text; rejects with BodyTooLargeError as soon as more than
   * MAX_BODY_BYTES have arrived (counted while streaming, never trusting `content-length`).
   */
  readBody(): Promise<string>;
}

/** Content type, size, JSON syntax, then schema: each failure its own 4xx with a clear detail. */
export async function readJsonBody<S extends z.ZodType>(incoming: IncomingBody, schema: S): Promise<z.infer<S>> {
  const mediaType = incoming.contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new UnsupportedMediaTypeError({ detail: 'The body must be JSON with Content-Type: application/json.' });
  }
  const text = await incoming.readBody();
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) throw new BodyTooLargeError({ detail: `The body must be at most ${MAX_BODY_BYTES} bytes.` });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidRequestError({ detail: 'The body is not valid JSON.' });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`);
    throw new InvalidRequestError({ detail: problems.join('; ') });
  }
  return parsed.data;
}
