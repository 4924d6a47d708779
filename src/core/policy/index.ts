export { compileAuditors, compileGrants } from './compile-grants';
export type { CallerMatcher, CompiledGrant, CompiledGrants, Mode } from './compile-grants';
export { authorize, entitlementsOf, callerMatches, notGranted } from './authorize';
export type { AccessRequest, Entitlement } from './authorize';
export type { CallerIdentity } from './caller-identity';
export { apiScopeProblem, grantScopes, normalizeScopes, parseApiScope, scopeCovers } from './api-scopes';
export { RateLimiter, systemClock } from './rate-limiter';
export type { Clock } from './rate-limiter';
