export type { AuditSinkOptions } from './table-audit-sink';
export { AUDIT_OUTCOMES, fingerprintToken } from './audit-record';
export type { AuditRecord, AuditSink, GrantOutcome } from './audit-record';
export { queryAudit, decodeContinuation, encodeContinuation } from './audit-query';
export type { AuditFilter, AuditQuery, AuditReader, AuditRow } from './audit-query';
export { ISSUANCE_BUCKETS, REFUSAL_BUCKETS, partitionsOfDay, kindOf } from './partition-layout';
export type { RowKind } from './partition-layout';
