import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
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
});
