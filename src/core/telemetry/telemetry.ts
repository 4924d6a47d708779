/**
 * What the service tells an operator about its work: one span per request with a child per stage
 * of a vend and per upstream call, and a handful of metrics. The core speaks only this interface;
 * `./open-telemetry.ts` maps it to OpenTelemetry, and `NO_TELEMETRY` (the default) does nothing.
 *
 * Security invariant: nothing here takes free text. Every name and attribute is one of the closed
 * sets below or an identifier the audit record also holds (workspace, mode, caller object/app/tenant
 * id, request id, problem code), so no token, secret, caller JWT or PAT can reach a span or a label.
 */

/** The stages of a vend, in protocol order. `secret` runs inside `mint`, and only when the SP's secret is read. */
export type StageName = 'caller' | 'grant' | 'secret' | 'mint' | 'audit';

/** The upstreams, as the health checks and the alerts name them (`table`: the audit table). */
export type DependencyName = 'keyvault' | 'entra' | 'databricks' | 'table';

/** What a dependency span says it did: fixed words, never a URL, a secret name or a host. */
export type DependencyOperation =
  | 'get secret'
  | 'token'
  | 'signing keys'
  | 'on-behalf-of'
  | 'create token'
  | 'list tokens'
  | 'revoke token'
  | 'token exchange'
  | 'insert batch';

/** The caches a vend passes through: the verified caller token, the SP's Entra ID token, the SP's secret. */
export type CacheName = 'caller_token' | 'sp_token' | 'secret';

export type AuditRowKind = 'issuance' | 'refusal';

/** How a request ended; `issued` for a token handed out, `ok` for any other 2xx/3xx. */
export type Outcome = 'issued' | 'ok' | 'denied' | 'failed';

/** Everything the request span and the request metrics carry. */
export interface RequestFacts {
  readonly route: string;
  readonly status: number;
  /** The problem code, or `issued` / `ok`. */
  readonly code: string;
  readonly outcome: Outcome;
  /** A configured workspace's name; a name the config does not know is reported as `(unknown)`. */
  readonly workspace?: string;
  readonly mode?: string;
  readonly callerTenantId?: string;
  readonly callerObjectId?: string;
  readonly callerAppId?: string;
  readonly requestId: string;
  readonly durationMs: number;
}

export interface Telemetry {
  readonly enabled: boolean;
  /**
   * Runs one request as a span (a child of `traceParent`, the Functions host's W3C trace context,
   * when given). `run` calls `finish` once with how the request ended: attributes and metrics.
   */
  request<T>(route: string, traceParent: string | undefined, run: (finish: (facts: RequestFacts) => void) => Promise<T>): Promise<T>;
  /** Runs `run` (sync or async) as a child span of the current one. */
  stage<T>(stage: StageName, run: () => T): T;
  /** One call to an upstream: a client span, and on failure one count of `vend.upstream.errors`. */
  dependency<T>(dependency: DependencyName, operation: DependencyOperation, run: () => Promise<T>): Promise<T>;
  cache(cache: CacheName, hit: boolean): void;
  /** One batch transaction written to the audit table, by the number of rows in it. */
  auditBatch(kind: AuditRowKind, rows: number): void;
  /** Exports what is pending (tests, shutdown). */
  flush(): Promise<void>;
}

/** Telemetry off: each call runs its function and nothing else (no allocation, no timer). */
export const NO_TELEMETRY: Telemetry = {
  enabled: false,
  request: (_route, _parent, run) => run(() => undefined),
  stage: (_stage, run) => run(),
  dependency: (_dependency, _operation, run) => run(),
  cache: () => undefined,
  auditBatch: () => undefined,
  flush: () => Promise.resolve(),
};

const FLUSH_MS = 5_000;

/** At shutdown: exports what is pending, for at most 5 s; resolves whatever happens. */
export async function flushTelemetry(telemetry: Telemetry | undefined, ms = FLUSH_MS): Promise<void> {
  if (!telemetry?.enabled) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()));
  await Promise.race([telemetry.flush().catch(() => undefined), late]);
  clearTimeout(timer);
}
