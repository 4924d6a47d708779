import { createHmac, randomBytes } from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { fingerprintToken } from '../../src/core/audit';

const expected = (token: string, key: Buffer): string => createHmac('sha256', key).update(token, 'utf8').digest('hex').slice(0, 16);

describe('fingerprintToken, remembered for the last token', () => {
  it('is the HMAC whatever came before: same token under another key, another token, a key changed in place', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    expect(fingerprintToken('token-a', k1)).toBe(expected('token-a', k1));
    expect(fingerprintToken('token-a', k1)).toBe(expected('token-a', k1));
    expect(fingerprintToken('token-a', k2)).toBe(expected('token-a', k2));
    expect(fingerprintToken('token-b', k2)).toBe(expected('token-b', k2));
    const reused = Buffer.from(k2);
    expect(fingerprintToken('token-b', reused)).toBe(expected('token-b', k2));
    reused.fill(7); // the same Buffer object, new bytes: not the remembered key
    expect(fingerprintToken('token-b', reused)).toBe(expected('token-b', reused));
    expect(fingerprintToken('token-b', reused)).not.toBe(expected('token-b', k2));
  });

  it('computes the HMAC once for the same token under the same key Buffer, and anew for another Buffer with the same bytes', () => {
    // HMACs counted through node:crypto's own export, which the module's import reads.
    const key = randomBytes(32);
    const copy = Buffer.from(key);
    const want = expected('token-memo', key);
    const crypto = createRequire(__filename)('node:crypto') as { createHmac: typeof createHmac };
    const hmacs = vi.spyOn(crypto, 'createHmac');
    syncBuiltinESMExports();
    try {
      const counts: number[] = [];
      for (const k of [key, key, copy, copy]) {
        expect(fingerprintToken('token-memo', k)).toBe(want);
        counts.push(hmacs.mock.calls.length);
      }
      expect(counts).toEqual([1, 1, 2, 2]);
    } finally {
      hmacs.mockRestore();
      syncBuiltinESMExports();
    }
  });
});
