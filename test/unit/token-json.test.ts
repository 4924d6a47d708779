import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenJson } from '../../src/core/vend/token-json';
import { loadAnew } from '../support/load-anew';

/** A JWT-shaped string of `length` characters, distinct per `n`. */
const jwtLike = (n: number, length = 2_300): string => `eyJ${String(n).padStart(6, '0')}.${'A'.repeat(length - 11)}.x`;

/** The body's token fields as `issueToken` writes them, and as they would be written plainly. */
const written = (token: string): [string, string] => {
  const json = tokenJson(token);
  return [JSON.stringify({ access_token: json.token, headers: { Authorization: json.bearer } }), JSON.stringify({ access_token: token, headers: { Authorization: `Bearer ${token}` } })];
};

describe('a token escaped for JSON once', () => {
  it('serializes to exactly the text of the plain token, for a JWT', () => {
    const [fast, plain] = written(jwtLike(1));
    expect(fast).toBe(plain);
    expect(JSON.parse(fast)).toEqual({ access_token: jwtLike(1), headers: { Authorization: `Bearer ${jwtLike(1)}` } });
  });

  it('serializes to exactly the text of the plain token, whatever characters a long token holds', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 256, maxLength: 600, unit: 'binary' }), (token) => {
        const [fast, plain] = written(token);
        expect(fast).toBe(plain);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a long token’s JSON: the same token again is not escaped again', () => {
    const token = jwtLike(2);
    const first = tokenJson(token);
    expect(tokenJson(token)).toBe(first);
    expect(first.token).not.toBe(token);
  });

  it('leaves a token shorter than 256 characters (a PAT) as plain strings, and keeps nothing for it', () => {
    const pat = `dapi${'0'.repeat(32)}`;
    expect(tokenJson(pat)).toEqual({ token: pat, bearer: `Bearer ${pat}` });
    expect(tokenJson(pat)).not.toBe(tokenJson(pat));
    expect(tokenJson('x'.repeat(255)).token).toBe('x'.repeat(255));
    expect(tokenJson('x'.repeat(256)).token).not.toBe('x'.repeat(256));
  });

  it('keeps at most 256 tokens: the memo is emptied when a 257th comes', async () => {
    const { tokenJson: fresh } = await loadAnew(() => import('../../src/core/vend/token-json.js'));
    const first = fresh(jwtLike(0, 300));
    for (let n = 1; n < 256; n++) fresh(jwtLike(n, 300));
    expect(fresh(jwtLike(0, 300))).toBe(first);
    fresh(jwtLike(256, 300));
    expect(fresh(jwtLike(0, 300))).not.toBe(first);
  });

  it('without JSON.rawJSON (older runtimes) gives the plain strings', async () => {
    const json = JSON as { rawJSON?: unknown };
    const saved = json.rawJSON;
    delete json.rawJSON;
    try {
      const { tokenJson: fresh } = await loadAnew(() => import('../../src/core/vend/token-json.js'));
      const token = jwtLike(3);
      expect(fresh(token)).toEqual({ token, bearer: `Bearer ${token}` });
    } finally {
      json.rawJSON = saved;
    }
  });
});
