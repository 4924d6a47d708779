export { VendingClient } from './vending-client';
export { VendingClientError, isVendingClientError } from './vending-client-error';
export type { ClientFailureCode, ServiceProblemCode, VendingClientErrorCode, VendingClientErrorOptions } from './vending-client-error';
export type { Clock, HeadersRequest, TokenCredential, TokenMode, TokenRequest, VendedToken, VendingClientOptions, WorkspaceEntitlement } from './types';
export type { AuditClient, AuditEntry, AuditLookup, AuditPage, AuditQuery } from './audit-client';
