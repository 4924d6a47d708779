import { z } from 'zod';
import { checkGrant, grantFields } from '../config';

// Request bodies of the grant routes. Their grant fields and cross-field checks are the config
// grant's (grantFields, checkGrant), so an API grant can say exactly what the config can, no more.

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone' });
/** Printable only: no control, format (bidi), surrogate, private-use or unassigned code points. */
const text = (max: number) => z.string().min(1).max(max).regex(/^[^\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]*$/u, 'must be printable characters only');

/** POST /api/grants */
export const createGrantBody = grantFields
  .extend({
    expiresAt: isoTime.optional(),
    reason: text(500),
  })
  .superRefine(checkGrant);

/**
 * POST /api/grant-requests: who it admits defaults to the caller itself; modes to aad; lifetime to
 * an hour. Modes left out are checked as none: aad needs no scopes either.
 */
export const requestGrantBody = grantFields.extend({
  callers: grantFields.shape.callers.optional(),
  modes: grantFields.shape.modes.optional(),
  maxLifetimeSeconds: grantFields.shape.maxLifetimeSeconds.optional(),
  managementToken: z.boolean().optional(),
  expiresAt: isoTime.optional(),
  reason: text(500),
}).superRefine(checkGrant);

/** POST /api/grant-requests/{id}/approve: every field may only narrow what was asked. */
export const approveBody = z.strictObject({
  modes: grantFields.shape.modes.optional(),
  maxLifetimeSeconds: grantFields.shape.maxLifetimeSeconds.optional(),
  managementToken: z.boolean().optional(),
  expiresAt: isoTime.optional(),
  note: text(500).optional(),
});

/** POST /api/grant-requests/{id}/decline */
export const declineBody = z.strictObject({ note: text(500).optional() });

/** POST /api/grants/{id}/renew */
export const renewBody = z.strictObject({ expiresAt: isoTime.optional(), reason: text(500).optional() });

/** DELETE /api/grants/{id} takes no body; its reason, if any, comes as a query parameter. */

/** An id this service could have made (built per call, so mutation testing can switch it at run time). */
export function isOurId(id: string): boolean {
  return /^[A-Za-z0-9-]{1,64}$/.test(id);
}
