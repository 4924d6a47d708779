export { TableAuditSink } from './table-audit-sink';
export { fingerprintToken } from './audit-record';
export type { AuditRecord, AuditSink } from './audit-record';
