import type { IncomingMessage } from 'node:http';

/**
 * The request body, or undefined when it is over `limit` bytes. An oversized body is still read
 * to its end, keeping nothing, so the 413 that follows reaches the client instead of a reset.
 */
export function readBodyWithin(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
