// The public entry of the concern: the interface, the no-op default and the switch. The
// OpenTelemetry adapter (./open-telemetry) and the Azure Monitor wiring (./azure-monitor) are
// loaded only when telemetry is on: a deployment without it loads none of their code.
export { NO_TELEMETRY, flushTelemetry } from './telemetry';
export type { AuditRowKind, CacheName, DependencyName, DependencyOperation, Outcome, RequestFacts, StageName, Telemetry } from './telemetry';
export { errorType } from './error-type';
export type { TelemetrySettings } from './start-telemetry';
