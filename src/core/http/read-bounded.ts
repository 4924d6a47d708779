import { BodyTooLargeError } from '../errors';

/** What a body stream offers (a WHATWG stream reader has this shape): one chunk at a time. */
export interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  cancel(): Promise<void>;
}

/** How much of a refused body is still read and dropped, and for how long, before the connection is cut. */
export const DISCARD = { maxBytes: 1024 * 1024, budgetMs: 15_000 };

/**
 * Reads a body chunk by chunk and counts what arrived, whatever `content-length` claimed: at
 * most `limit` bytes are ever kept. Past the limit it throws BodyTooLargeError at once, so the
 * 413 goes out while the client may still be sending.
 */
export async function readBounded(reader: ChunkReader, limit: number, discard = DISCARD): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    if (!value) continue;
    size += value.byteLength;
    if (size > limit) {
      void discardRest(reader, discard);
      throw new BodyTooLargeError({ detail: `The body must be at most ${limit} bytes.` });
    }
    chunks.push(value);
  }
}

/**
 * In the background, reads the rest of a refused body and drops it, so a body a little over the
 * limit leaves the connection whole (cutting it with unread bytes resets it, and the 413 may be
 * lost). A bigger one is read no further (its sender stalls until it sees the 413) and the
 * connection is cut when the budget ends: memory never grows with what a client sends.
 */
async function discardRest(reader: ChunkReader, discard: typeof DISCARD): Promise<void> {
  const cut = setTimeout(() => void reader.cancel().catch(() => undefined), discard.budgetMs);
  cut.unref();
  try {
    for (let dropped = 0; dropped <= discard.maxBytes; ) {
      const { done, value } = await reader.read();
      if (done) return clearTimeout(cut);
      dropped += value?.byteLength ?? 0;
    }
  } catch {
    clearTimeout(cut); // cancelled or reset: refused either way
  }
}
