import type { AuditReader, AuditSink } from '../audit';
import type { VendingConfig } from '../config';
import type { CreatedPat, ListedPat, DatabricksTokenExchanger, ExchangedToken, KeyedTokenCache, OnBehalfOfMinter, TokenMinter } from '../mint';
import type { CallerIdentity, CallerMatcher, Clock, CompiledGrants, RateLimiter } from '../policy';
import type { Workspace } from '../config';
import type { AuditKeySource } from '../secrets';
import type { Deadlines } from '../deadline';
import type { GrantAdmin } from '../grants/grant-admin';
import type { HealthTracker } from './health';
import type { Telemetry } from '../telemetry';

/** Everything the vend path needs, as small interfaces, so tests can swap any of them. */
export interface VendDeps {
  readonly config: VendingConfig;
  /** Config grants and the API grants in force now (read from memory: a vend never waits on the grants table). */
  readonly grants: CompiledGrants;
  /** The grant routes' store, cache and owners; absent where a test wires the vend path alone. */
  readonly grantAdmin?: GrantAdmin;
  verifyCaller(authorization: string | null): Promise<CallerIdentity>;
  readonly limiter: RateLimiter;
  readonly minter: TokenMinter;
  readonly audit: AuditSink;
  /** The audit fingerprint key; throws AuditUnavailableError (503) while it cannot be had. */
  readonly auditKey: AuditKeySource;
  readonly clock: Clock;
  readonly health: HealthTracker;
  readonly pats: {
    create(ws: Workspace, spToken: string, lifetimeSeconds: number, comment: string, scopes?: readonly string[]): Promise<CreatedPat>;
    revoke(ws: Workspace, spToken: string, tokenId: string, callerMark: string): Promise<void>;
    list(ws: Workspace, spToken: string): Promise<ListedPat[]>;
  };
  /** mode oauth: the workspace token exchange, and its tokens per (caller, SP, workspace, scope set). */
  readonly oauth: DatabricksTokenExchanger;
  readonly oauthTokens: KeyedTokenCache<ExchangedToken>;
  /** mode user: undefined unless the config names the vending API's app registration (onBehalfOf). */
  readonly onBehalfOf?: OnBehalfOfMinter;
  readonly version: string;
  /** The service's own time limits (absent in unit tests that build deps by hand: no limits). */
  readonly deadlines?: Deadlines;
  /**
   * The deps of one request: every upstream call also bounded by what is left of a budget of
   * `deadlines.budgetMs` that starts now (DESIGN §7). Absent (no deadlines): the deps themselves.
   */
  readonly forRequest?: () => VendDeps;
  /** The same deps with each call bounded by its own deadline only: cleanup after a request's budget is spent. */
  readonly unbudgeted?: VendDeps;
  /** Who may read the audit trail (config `auditors`); absent: no one. */
  readonly auditors?: CallerMatcher;
  /** The audit table's read side, for GET /api/audit. */
  readonly auditReader?: AuditReader;
  /** Spans and metrics (Application Insights when configured); absent: none. */
  readonly telemetry?: Telemetry;
}

/** The request as the trigger hands it over. */
export interface RequestContext {
  readonly requestId: string;
  readonly authorization: string | null;
  readonly sourceIp: string | undefined;
  readonly userAgent: string | undefined;
  /** The Functions host's W3C `traceparent` for this invocation: the request's span becomes its child. */
  readonly traceParent?: string;
}
