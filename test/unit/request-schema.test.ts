import { beforeEach, describe, expect, it } from 'vitest';
import type { tokenRequestSchema as TokenRequestSchema } from '../../src/core/vend/request-schema';
import { loadAnew } from '../support/load-anew';

// The schema is built when its module loads: each test loads it anew (see loadAnew).
let tokenRequestSchema: typeof TokenRequestSchema;
beforeEach(async () => {
  ({ tokenRequestSchema } = await loadAnew(() => import('../../src/core/vend/request-schema.js')));
});

const ok = (body: unknown): boolean => tokenRequestSchema.safeParse(body).success;

describe('POST /api/token body: every bound at its edge (DESIGN §2)', () => {
  it('fills the documented defaults', () => {
    expect(tokenRequestSchema.parse({ workspace: 'w' })).toEqual({ workspace: 'w', mode: 'aad', min_validity_seconds: 300, management_token: false });
  });

  it.each([
    ['workspace missing', {}, false],
    ['workspace empty', { workspace: '' }, false],
    ['workspace 64 chars', { workspace: 'w'.repeat(64) }, true],
    ['workspace 65 chars', { workspace: 'w'.repeat(65) }, false],
    ['workspace not a string', { workspace: 7 }, false],
    ['mode aad', { workspace: 'w', mode: 'aad' }, true],
    ['mode pat', { workspace: 'w', mode: 'pat' }, true],
    ['mode oauth', { workspace: 'w', mode: 'oauth' }, true],
    ['mode user', { workspace: 'w', mode: 'user' }, true],
    ['mode other', { workspace: 'w', mode: 'token' }, false],
    ['lifetime 59', { workspace: 'w', lifetime_seconds: 59 }, false],
    ['lifetime 60', { workspace: 'w', lifetime_seconds: 60 }, true],
    ['lifetime 90 days', { workspace: 'w', lifetime_seconds: 86_400 * 90 }, true],
    ['lifetime 90 days + 1', { workspace: 'w', lifetime_seconds: 86_400 * 90 + 1 }, false],
    ['lifetime fractional', { workspace: 'w', lifetime_seconds: 60.5 }, false],
    ['min_validity -1', { workspace: 'w', min_validity_seconds: -1 }, false],
    ['min_validity 0', { workspace: 'w', min_validity_seconds: 0 }, true],
    ['min_validity 3000', { workspace: 'w', min_validity_seconds: 3000 }, true],
    ['min_validity 3001', { workspace: 'w', min_validity_seconds: 3001 }, false],
    ['min_validity fractional', { workspace: 'w', min_validity_seconds: 1.5 }, false],
    ['management_token true', { workspace: 'w', management_token: true }, true],
    ['management_token as string', { workspace: 'w', management_token: 'true' }, false],
    ['purpose 200 chars', { workspace: 'w', purpose: 'p'.repeat(200) }, true],
    ['purpose 201 chars', { workspace: 'w', purpose: 'p'.repeat(201) }, false],
    ['purpose with accents and spaces', { workspace: 'w', purpose: 'Nächtlicher ETL-Lauf (prod) №1' }, true],
    ['purpose empty', { workspace: 'w', purpose: '' }, true],
    ['purpose with a newline (Cc)', { workspace: 'w', purpose: 'a\nb' }, false],
    ['purpose with NUL (Cc)', { workspace: 'w', purpose: 'a\u0000' }, false],
    ['purpose with a zero-width space (Cf)', { workspace: 'w', purpose: 'a\u200bb' }, false],
    ['purpose with a bidi override (Cf)', { workspace: 'w', purpose: '\u202eabc' }, false],
    ['purpose with a line separator (Zl)', { workspace: 'w', purpose: 'a\u2028b' }, false],
    ['purpose with a paragraph separator (Zp)', { workspace: 'w', purpose: 'a\u2029b' }, false],
    ['purpose with a lone surrogate (Cs)', { workspace: 'w', purpose: 'a\ud800b' }, false],
    ['purpose with a private-use character (Co)', { workspace: 'w', purpose: 'a\ue000b' }, false],
    ['purpose with an unassigned code point (Cn)', { workspace: 'w', purpose: 'a\u0378b' }, false],
    ['purpose not a string', { workspace: 'w', purpose: 5 }, false],
    ['scopes one', { workspace: 'w', scopes: ['sql'] }, true],
    ['scopes with modifiers', { workspace: 'w', scopes: ['sql:read:restricted-query', 'clusters:read', 'all-apis'] }, true],
    ['scopes empty', { workspace: 'w', scopes: [] }, false],
    ['scopes 32', { workspace: 'w', scopes: Array.from({ length: 32 }, (_, i) => `s${i}`) }, true],
    ['scopes 33', { workspace: 'w', scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) }, false],
    ['scope upper-case', { workspace: 'w', scopes: ['SQL'] }, false],
    ['scope unknown modifier', { workspace: 'w', scopes: ['sql:write'] }, false],
    ['scope not a string', { workspace: 'w', scopes: [1] }, false],
    ['scopes not an array', { workspace: 'w', scopes: 'sql' }, false],
    ['unknown field', { workspace: 'w', extra: 1 }, false],
    ['an array', [{ workspace: 'w' }], false],
  ])('%s', (_name, body, accepted) => {
    expect(ok(body)).toBe(accepted);
  });

  it('says why a purpose is refused', () => {
    const result = tokenRequestSchema.safeParse({ workspace: 'w', purpose: 'a\u0007' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('must be printable characters only');
  });

  it('says why a scope is refused, at its place in the list', () => {
    const result = tokenRequestSchema.safeParse({ workspace: 'w', scopes: ['sql', 'jobs:restricted-query'] });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ path: ['scopes', 1], message: '"jobs:restricted-query": restricted-query applies to the sql scope only' }),
    ]);
  });
});
