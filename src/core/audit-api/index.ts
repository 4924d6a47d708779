export { readAudit, AUDIT_READ_DEADLINE_MS } from './read-audit';
export { lookupAudit } from './lookup-audit';
export { parseAuditParams, parseRange, encodePageToken, DEFAULT_LIMIT, MAX_LIMIT } from './audit-params';
export type { AuditRequest } from './audit-params';
