import { z } from 'zod';
import { checkGrant, grantFields } from '../config';

/** Who did something to a grant: identifiers from the verified token, never the token. */
export const actorSchema = z.strictObject({
  tid: z.string(),
  oid: z.string(),
  appid: z.string(),
  kind: z.enum(['app', 'user']),
  name: z.string().optional(),
});
export type Actor = z.infer<typeof actorSchema>;

const isoTime = z.iso.datetime({ offset: true });

/**
 * A grant made through the API: the config grant's fields (same schema, so the same meaning),
 * plus its expiry, reason and history. Revocation is a state, never a deletion.
 */
export const apiGrantSchema = grantFields
  .extend({
  id: z.string().min(1).max(64),
  expiresAt: isoTime,
  reason: z.string().max(500),
  createdBy: actorSchema,
  createdAt: isoTime,
  state: z.enum(['active', 'revoked']),
  fromRequest: z.string().optional(),
  revokedBy: actorSchema.optional(),
  revokedAt: isoTime.optional(),
  renewedBy: actorSchema.optional(),
  renewedAt: isoTime.optional(),
  })
  .superRefine(checkGrant);
export type ApiGrant = z.infer<typeof apiGrantSchema>;

/** What a caller asked for; an owner approves it (possibly narrower) or declines it. */
export const grantRequestSchema = grantFields
  .extend({
  id: z.string().min(1).max(64),
  expiresAt: isoTime.optional(),
  reason: z.string().max(500),
  createdBy: actorSchema,
  createdAt: isoTime,
  state: z.enum(['pending', 'approved', 'declined']),
  decidedBy: actorSchema.optional(),
  decidedAt: isoTime.optional(),
  decisionNote: z.string().max(500).optional(),
  grantId: z.string().optional(),
  })
  .superRefine(checkGrant);
export type GrantRequest = z.infer<typeof grantRequestSchema>;

export type GrantStatus = 'active' | 'expired' | 'revoked';

/** Expired is computed, never stored: a grant stops admitting the moment its expiry passes. */
export function statusOf(grant: ApiGrant, nowMs: number): GrantStatus {
  if (grant.state === 'revoked') return 'revoked';
  return Date.parse(grant.expiresAt) <= nowMs ? 'expired' : 'active';
}
