import { createHmac } from 'node:crypto';

/** Every outcome a row can record; `audit_read` is an auditor reading the trail (README "Operating it"). */
export const AUDIT_OUTCOMES = [
  'issued', 'denied', 'failed', 'revoked', 'audit_read',
  'grant_created', 'grant_revoked', 'grant_renewed', 'grant_requested', 'grant_approved', 'grant_declined',
] as const;

/** One decision (DESIGN §4). Holds identifiers of tokens, never tokens. */
export interface AuditRecord {
  readonly request_id: string;
  readonly time: string;
  readonly outcome: (typeof AUDIT_OUTCOMES)[number];
  readonly status: number;
  readonly code: string;
  readonly caller_tid?: string;
  readonly caller_oid?: string;
  readonly caller_appid?: string;
  readonly caller_kind?: 'app' | 'user';
  readonly caller_name?: string;
  readonly workspace?: string;
  readonly service_principal?: string;
  readonly mode?: string;
  /** The Databricks API scopes granted (space-separated), for scoped oauth and pat tokens. */
  readonly scopes?: string;
  readonly management_token?: boolean;
  readonly token_id?: string;
  readonly token_fingerprint?: string;
  readonly expires_on?: number;
  readonly purpose?: string;
  /** Audit API requests: the filters asked for, as JSON (never a token: a lookup records its fingerprint). */
  readonly audit_query?: string;
  readonly source_ip?: string;
  readonly user_agent?: string;
  readonly latency_ms: number;
  /** Issuances: the grants that admitted the caller (config:<index> or API grant ids). Grant changes: the grant or request id. */
  readonly grant_id?: string;
  /** Grant changes: what was attempted (grant_create, grant_revoke, …), and the grant's content as JSON. */
  readonly action?: string;
  readonly grant?: string;
}

/** The record of every change to API grants and grant requests (no record, no change). */
export type GrantOutcome = 'grant_created' | 'grant_revoked' | 'grant_renewed' | 'grant_requested' | 'grant_approved' | 'grant_declined';

export interface AuditSink {
  /** Resolves once the record is durable; rejects otherwise (the caller then fails closed). */
  record(record: AuditRecord): Promise<void>;
}

/**
 * HMAC-SHA256 of the token under the per-deployment key, first 16 hex. Lets an investigator
 * who holds a leaked token find its issuance, without the table ever holding anything usable.
 */
export function fingerprintToken(token: string, key: Buffer): string {
  // Warm, every caller of an SP is handed the same cached token: its fingerprint is computed once.
  // The key must be the same Buffer (a key source hands out the one it holds until the key changes;
  // a memo is never taken for another source's key with the same bytes) with the same bytes.
  const last = lastFingerprint;
  if (last && last.token === token && last.key === key && last.bytes.equals(key)) return last.value;
  const value = createHmac('sha256', key).update(token, 'utf8').digest('hex').slice(0, 16);
  lastFingerprint = { token, key, bytes: Buffer.from(key), value };
  return value;
}

/** The last token fingerprinted (already held by the token cache it came from), its key (and a copy of its bytes), its fingerprint. */
let lastFingerprint: { readonly token: string; readonly key: Buffer; readonly bytes: Buffer; readonly value: string } | undefined;
