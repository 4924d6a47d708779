import { z } from 'zod';
import { grantSchema } from '../config';

// Request bodies of the grant routes. Their grant fields are the config grant's schema, so a
// grant made through the API can say exactly what the config can, and nothing else.

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone' });
/** Printable only: no control, format (bidi), surrogate, private-use or unassigned code points. */
const text = (max: number) => z.string().min(1).max(max).regex(/^[^\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]*$/u, 'must be printable characters only');

/** POST /api/grants */
export const createGrantBody = grantSchema.extend({
  expiresAt: isoTime.optional(),
  reason: text(500),
});

/** POST /api/grant-requests: who it admits defaults to the caller itself; modes to aad; lifetime to an hour. */
export const requestGrantBody = grantSchema.extend({
  callers: grantSchema.shape.callers.optional(),
  modes: grantSchema.shape.modes.optional(),
  maxLifetimeSeconds: grantSchema.shape.maxLifetimeSeconds.optional(),
  managementToken: z.boolean().optional(),
  expiresAt: isoTime.optional(),
  reason: text(500),
});

/** POST /api/grant-requests/{id}/approve: every field may only narrow what was asked. */
export const approveBody = z.strictObject({
  modes: grantSchema.shape.modes.optional(),
  maxLifetimeSeconds: grantSchema.shape.maxLifetimeSeconds.optional(),
  managementToken: z.boolean().optional(),
  expiresAt: isoTime.optional(),
  note: text(500).optional(),
});

/** POST /api/grant-requests/{id}/decline */
export const declineBody = z.strictObject({ note: text(500).optional() });

/** POST /api/grants/{id}/renew */
export const renewBody = z.strictObject({ expiresAt: isoTime.optional(), reason: text(500).optional() });

/** DELETE /api/grants/{id} takes no body; its reason, if any, comes as a query parameter. */
export const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
