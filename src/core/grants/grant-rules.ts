import type { z } from 'zod';
import type { VendingConfig } from '../config';
import { InvalidRequestError } from '../errors';
import { readJsonBody } from '../http';
import type { IncomingBody } from '../http';

const DAY_MS = 86_400_000;
/** A grant shorter than this is a mistake, not a grant. */
const MIN_EXPIRY_MS = 60_000;

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/** The expiry asked for, or the default; always in the future and within the configured maximum. */
export function resolveExpiry(config: VendingConfig, nowMs: number, requested: string | undefined): string {
  const { defaultExpiryDays, maxExpiryDays } = config.apiGrants;
  if (requested === undefined) return isoAt(nowMs + defaultExpiryDays * DAY_MS);
  const at = Date.parse(requested);
  if (at < nowMs + MIN_EXPIRY_MS) throw new InvalidRequestError({ detail: 'expiresAt: must be at least a minute in the future.' });
  if (at > nowMs + maxExpiryDays * DAY_MS) throw new InvalidRequestError({ detail: `expiresAt: must be at most ${maxExpiryDays} days from now.` });
  return isoAt(at);
}

/**
 * The checks the config document gets against the rest of the config: other tenants only from
 * callers.allowedTenants, mode user only with onBehalfOf configured.
 */
export function checkTenants(config: VendingConfig, tenants: readonly string[] | undefined, modes: readonly string[] | undefined): void {
  for (const t of tenants ?? []) {
    if (!config.allowedTenants.includes(t.toLowerCase())) throw new InvalidRequestError({ detail: `tenants: "${t}" is not one of the tenants this service accepts.` });
  }
  if (modes?.includes('user') && !config.onBehalfOfClientId) throw new InvalidRequestError({ detail: 'modes: mode user is not set up on this service (no onBehalfOf).' });
}

/** A body that may be left out entirely (no content type, nothing sent): then it is `{}`. */
export async function readOptionalJson<S extends z.ZodType>(incoming: IncomingBody, schema: S): Promise<z.infer<S>> {
  if (incoming.contentType === null) {
    const text = await incoming.readBody();
    if (text.trim() === '') return readJsonBody({ contentType: 'application/json', readBody: () => Promise.resolve('{}') }, schema);
  }
  return readJsonBody(incoming, schema);
}
