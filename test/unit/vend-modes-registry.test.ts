import { beforeEach, describe, expect, it } from 'vitest';
import type { MODES as Modes } from '../../src/core/vend/modes';
import type { CallerIdentity } from '../../src/core/policy';
import { tokenRequestSchema } from '../../src/core/vend/request-schema';
import { loadAnew } from '../support/load-anew';

// The registry of modes is a table built when its module loads: each test loads it anew (see
// loadAnew) and asks each mode for what tells it apart, by problem code and detail.

let MODES: typeof Modes;
beforeEach(async () => {
  ({ MODES } = await loadAnew(() => import('../../src/core/vend/modes/index.js')));
});

const TENANT = '11111111-2222-3333-4444-555555555555';
const app: CallerIdentity = { tenantId: TENANT, objectId: 'oid-app', appId: 'app-1', roles: [], kind: 'app', name: undefined };
const request = (body: Record<string, unknown>) => tokenRequestSchema.parse({ workspace: 'prod', ...body });

function refusal(run: () => void): { code?: unknown; detail?: unknown } | undefined {
  try {
    run();
  } catch (err) {
    return err as { code?: unknown; detail?: unknown };
  }
  return undefined;
}

describe('the modes registry (vend/modes)', () => {
  it('has a strategy for exactly the four modes', () => {
    expect(Object.keys(MODES).sort()).toEqual(['aad', 'oauth', 'pat', 'user']);
    expect(Object.isFrozen(MODES)).toBe(true);
  });

  it('each mode\'s strategy is its own: a management token is aad only, a lifetime pat only, user for users only', () => {
    const lifetime = request({ lifetime_seconds: 600 });
    expect(refusal(() => MODES.aad.check(lifetime, app))).toMatchObject({ code: 'invalid_request', detail: 'lifetime_seconds applies to mode "pat" only.' });
    expect(refusal(() => MODES.pat.check(lifetime, app))).toBeUndefined();
    const management = request({ management_token: true });
    expect(refusal(() => MODES.aad.check(management, app))).toBeUndefined();
    expect(refusal(() => MODES.oauth.check(management, app))).toMatchObject({ code: 'invalid_request', detail: 'management_token applies to mode "aad" only.' });
    expect(refusal(() => MODES.user.check(request({ mode: 'user' }), app))).toMatchObject({ code: 'invalid_request', detail: expect.stringContaining('for delegated (user) callers only') as string });
  });
});
