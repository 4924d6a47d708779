import { beforeEach, describe, expect, it } from 'vitest';
import type * as Bodies from '../../src/core/grants/grant-bodies';
import type * as Types from '../../src/core/grants/grant-types';
import { loadAnew } from '../support/load-anew';

// The grant routes' bodies and the stored grant and request rows, each rule at its edge. The
// schemas are built when their modules load: each test loads them anew (see loadAnew).

let bodies: typeof Bodies;
let types: typeof Types;
beforeEach(async () => {
  bodies = await loadAnew(() => import('../../src/core/grants/grant-bodies.js'));
  types = await import('../../src/core/grants/grant-types.js');
});

const APP = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const TENANT = '11111111-2222-3333-4444-555555555555';
const EXPIRY = '2026-03-01T00:00:00Z';
const actor = { tid: TENANT, oid: 'oid-1', appid: APP, kind: 'user' };

type Body = Record<string, unknown>;
interface Parser { safeParse(v: unknown): { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } }

/** The paths a body is refused at ('' for the body itself); [] when it is taken. */
function refusedAt(schema: Parser, body: unknown): string[] {
  const r = schema.safeParse(body);
  return r.success ? [] : (r.error?.issues ?? []).map((i) => i.path.join('.'));
}

function messages(schema: Parser, body: unknown): string[] {
  return (schema.safeParse(body).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

const create = (over: Body = {}): Body => ({ workspace: 'prod', callers: { appIds: [APP] }, modes: ['aad'], maxLifetimeSeconds: 600, reason: 'ticket 42', ...over });
const PRINTABLE = 'must be printable characters only';

describe('reasons and notes: 1 to 500 printable characters', () => {
  it.each([
    ['500 characters', 'r'.repeat(500), []],
    ['501 characters', 'r'.repeat(501), ['reason']],
    ['one character', 'r', []],
    ['empty', '', ['reason']],
    ['letters, digits, punctuation and spaces of any script', 'Ticket #42 – für Zoë, 票', []],
    ['a tab (Cc)', 'a\tb', ['reason']],
    ['a newline at the end (Cc)', 'ab\n', ['reason']],
    ['a bidi override (Cf)', '\u202eab', ['reason']],
    ['a lone surrogate (Cs)', 'a\ud800b', ['reason']],
    ['a private-use character (Co)', 'a\ue000b', ['reason']],
    ['an unassigned code point (Cn)', 'a\u0378b', ['reason']],
    ['a line separator (Zl)', 'a\u2028b', ['reason']],
    ['a paragraph separator (Zp)', 'a\u2029b', ['reason']],
  ])('a reason of %s', (_label, reason, paths) => {
    expect(refusedAt(bodies.createGrantBody, create({ reason }))).toEqual(paths);
  });

  it('says why in words', () => {
    expect(messages(bodies.createGrantBody, create({ reason: 'a\u0000b' }))).toEqual([`reason: ${PRINTABLE}`]);
  });

  it('holds for every body that carries text', () => {
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'a\u0007' })).toEqual(['reason']);
    expect(refusedAt(bodies.approveBody, { note: 'n'.repeat(501) })).toEqual(['note']);
    expect(refusedAt(bodies.approveBody, { note: 'n'.repeat(500) })).toEqual([]);
    expect(refusedAt(bodies.declineBody, { note: '' })).toEqual(['note']);
    expect(refusedAt(bodies.declineBody, { note: 'no\u202e' })).toEqual(['note']);
    expect(refusedAt(bodies.renewBody, { reason: 'r'.repeat(501) })).toEqual(['reason']);
    expect(refusedAt(bodies.renewBody, { reason: 'r'.repeat(500) })).toEqual([]);
  });

  it('is required to create or ask for a grant, optional elsewhere', () => {
    expect(refusedAt(bodies.createGrantBody, create({ reason: undefined }))).toEqual(['reason']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod' })).toEqual(['reason']);
    for (const schema of [bodies.approveBody, bodies.declineBody, bodies.renewBody]) expect(refusedAt(schema, {})).toEqual([]);
  });
});

describe('expiry: an ISO 8601 date-time with a time zone', () => {
  const rule = 'must be an ISO 8601 date-time with a time zone';
  it.each([
    ['UTC', '2026-03-01T00:00:00Z', []],
    ['an offset', '2026-03-01T00:00:00+02:00', []],
    ['fractional seconds', '2026-03-01T00:00:00.123Z', []],
    ['no time zone', '2026-03-01T00:00:00', ['expiresAt']],
    ['a date only', '2026-03-01', ['expiresAt']],
    ['not a date', 'next week', ['expiresAt']],
  ])('%s', (_label, expiresAt, paths) => {
    expect(refusedAt(bodies.createGrantBody, create({ expiresAt }))).toEqual(paths);
    expect(refusedAt(bodies.renewBody, { expiresAt })).toEqual(paths);
    expect(refusedAt(bodies.approveBody, { expiresAt })).toEqual(paths);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', expiresAt })).toEqual(paths);
  });

  it('says why in words', () => {
    expect(messages(bodies.renewBody, { expiresAt: '2026-03-01' })).toEqual([`expiresAt: ${rule}`]);
  });
});

describe('POST /api/grants', () => {
  it('takes what a config grant takes, with its checks across fields, and nothing else', () => {
    expect(bodies.createGrantBody.parse(create({ expiresAt: EXPIRY }))).toEqual({ ...create(), callers: { roles: [], appIds: [APP], objectIds: [] }, managementToken: false, expiresAt: EXPIRY });
    expect(refusedAt(bodies.createGrantBody, create({ modes: ['oauth'] }))).toEqual(['scopes']);
    expect(refusedAt(bodies.createGrantBody, create({ maxLifetimeSeconds: 59 }))).toEqual(['maxLifetimeSeconds']);
    expect(refusedAt(bodies.createGrantBody, create({ id: 'mine' }))).toEqual(['']);
    expect(refusedAt(bodies.createGrantBody, create({ workspace: undefined }))).toEqual(['workspace']);
  });
});

describe('POST /api/grant-requests', () => {
  it('defaults who it admits, the modes and the lifetime by leaving them out', () => {
    expect(bodies.requestGrantBody.parse({ workspace: 'prod', reason: 'r' })).toEqual({ workspace: 'prod', reason: 'r' });
  });

  it('checks scopes against the modes asked, aad when none', () => {
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', defaultScopes: ['sql'] })).toEqual(['defaultScopes']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', modes: ['oauth'] })).toEqual(['scopes']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', modes: ['oauth'], scopes: ['sql'] })).toEqual([]);
  });

  it('keeps the bounds of each field it lets be left out', () => {
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', modes: [] })).toEqual(['modes']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', maxLifetimeSeconds: 86_401 })).toEqual(['maxLifetimeSeconds']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', managementToken: 'yes' })).toEqual(['managementToken']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', callers: {} })).toEqual(['callers']);
    expect(refusedAt(bodies.requestGrantBody, { workspace: 'prod', reason: 'r', state: 'approved' })).toEqual(['']);
  });
});

describe('approve, decline and renew', () => {
  it('take only their own fields, each within its bounds', () => {
    const approve = { modes: ['aad'], maxLifetimeSeconds: 60, managementToken: false, expiresAt: EXPIRY, note: 'ok' };
    expect(bodies.approveBody.parse(approve)).toEqual(approve);
    expect(refusedAt(bodies.approveBody, { modes: [] })).toEqual(['modes']);
    expect(refusedAt(bodies.approveBody, { maxLifetimeSeconds: 59 })).toEqual(['maxLifetimeSeconds']);
    expect(refusedAt(bodies.approveBody, { managementToken: 1 })).toEqual(['managementToken']);
    expect(refusedAt(bodies.approveBody, { workspace: 'other' })).toEqual(['']);
    expect(refusedAt(bodies.declineBody, { note: 'no', modes: ['aad'] })).toEqual(['']);
    expect(refusedAt(bodies.renewBody, { reason: 'again', maxLifetimeSeconds: 600 })).toEqual(['']);
  });
});

describe('ids this service could have made', () => {
  it('are 1 to 64 letters, digits and dashes, nothing around them', () => {
    expect(bodies.isOurId('a'.repeat(64))).toBe(true);
    expect(bodies.isOurId('a'.repeat(65))).toBe(false);
    expect(bodies.isOurId('')).toBe(false);
    expect(bodies.isOurId('0f0e-AB')).toBe(true);
    for (const id of ['a_b', 'a.b', ' a', 'a ', 'a/b', '..']) expect(bodies.isOurId(id), id).toBe(false);
  });
});

describe('stored grant and request rows', () => {
  const row = (over: Body = {}): Body => ({
    id: 'g-1', workspace: 'prod', callers: { appIds: [APP] }, modes: ['aad'], maxLifetimeSeconds: 600,
    expiresAt: EXPIRY, reason: 'r', createdBy: actor, createdAt: '2026-01-01T00:00:00Z', state: 'active', ...over,
  });
  const request = (over: Body = {}): Body => ({ ...row({ state: 'pending', expiresAt: undefined }), ...over });

  it('read back a grant written by this service, with its history', () => {
    const full = row({ revokedBy: actor, revokedAt: EXPIRY, renewedBy: { ...actor, kind: 'app', name: 'ops' }, renewedAt: EXPIRY, fromRequest: 'q-1', state: 'revoked' });
    expect(types.apiGrantSchema.parse(full)).toEqual({ ...full, callers: { roles: [], appIds: [APP], objectIds: [] }, managementToken: false });
  });

  it('refuse a row that is not one: id 1 to 64 characters, reason up to 500, a known state, actors as written', () => {
    expect(refusedAt(types.apiGrantSchema, row({ id: 'i'.repeat(64) }))).toEqual([]);
    expect(refusedAt(types.apiGrantSchema, row({ id: 'i'.repeat(65) }))).toEqual(['id']);
    expect(refusedAt(types.apiGrantSchema, row({ id: '' }))).toEqual(['id']);
    // Rows may carry an empty reason (written before reasons were required); never a long one.
    expect(refusedAt(types.apiGrantSchema, row({ reason: '' }))).toEqual([]);
    expect(refusedAt(types.apiGrantSchema, row({ reason: 'r'.repeat(500) }))).toEqual([]);
    expect(refusedAt(types.apiGrantSchema, row({ reason: 'r'.repeat(501) }))).toEqual(['reason']);
    expect(refusedAt(types.apiGrantSchema, row({ state: 'pending' }))).toEqual(['state']);
    expect(refusedAt(types.apiGrantSchema, row({ expiresAt: '2026-03-01T02:00:00+02:00' }))).toEqual([]);
    expect(refusedAt(types.apiGrantSchema, row({ expiresAt: '2026-03-01' }))).toEqual(['expiresAt']);
    expect(refusedAt(types.apiGrantSchema, row({ expiresAt: undefined }))).toEqual(['expiresAt']);
    expect(refusedAt(types.apiGrantSchema, row({ createdBy: { ...actor, kind: 'robot' } }))).toEqual(['createdBy.kind']);
    expect(refusedAt(types.apiGrantSchema, row({ createdBy: { ...actor, token: 'x' } }))).toEqual(['createdBy']);
    expect(refusedAt(types.apiGrantSchema, row({ createdBy: { ...actor, oid: undefined } }))).toEqual(['createdBy.oid']);
    expect(refusedAt(types.apiGrantSchema, row({ modes: ['oauth'] }))).toEqual(['scopes']);
    expect(refusedAt(types.apiGrantSchema, row({ extra: 1 }))).toEqual(['']);
  });

  it('read back a request and its decision, and refuse one that is not', () => {
    const decided = request({ state: 'approved', decidedBy: actor, decidedAt: EXPIRY, decisionNote: 'n'.repeat(500), grantId: 'g-2', expiresAt: EXPIRY });
    expect(refusedAt(types.grantRequestSchema, request())).toEqual([]);
    expect(refusedAt(types.grantRequestSchema, decided)).toEqual([]);
    expect(refusedAt(types.grantRequestSchema, request({ state: 'declined' }))).toEqual([]);
    expect(refusedAt(types.grantRequestSchema, request({ state: 'active' }))).toEqual(['state']);
    expect(refusedAt(types.grantRequestSchema, request({ decisionNote: 'n'.repeat(501) }))).toEqual(['decisionNote']);
    expect(refusedAt(types.grantRequestSchema, request({ id: 'i'.repeat(65) }))).toEqual(['id']);
    expect(refusedAt(types.grantRequestSchema, request({ id: '' }))).toEqual(['id']);
    expect(refusedAt(types.grantRequestSchema, request({ reason: 'r'.repeat(501) }))).toEqual(['reason']);
    expect(refusedAt(types.grantRequestSchema, request({ decidedAt: 'yesterday' }))).toEqual(['decidedAt']);
    expect(refusedAt(types.grantRequestSchema, request({ modes: ['oauth'] }))).toEqual(['scopes']);
  });

  it('are expired from the moment their expiry passes, revoked whatever the expiry', () => {
    const grant = types.apiGrantSchema.parse(row());
    const at = Date.parse(EXPIRY);
    expect(types.statusOf(grant, at - 1)).toBe('active');
    expect(types.statusOf(grant, at)).toBe('expired');
    expect(types.statusOf({ ...grant, state: 'revoked' }, at - 1)).toBe('revoked');
  });
});
