import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace } from '@opentelemetry/api';
import type { Attributes, ContextManager, Meter, Span, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { isVendingError } from '../errors';
import { errorType } from './error-type';
import type { DependencyName, RequestFacts, StageName, Telemetry } from './telemetry';

/** The adapter's inputs: any tracer and meter (Azure Monitor's in production, in-memory ones in tests). */
export interface OpenTelemetryParts {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Carries the current span across awaits. The adapter's own: nothing global is registered. */
  readonly contexts: ContextManager;
  readonly flush?: () => Promise<void>;
}

/** Span and instrument names, as the README's KQL queries them. */
export const SPAN_NAMES = {
  stage: { caller: 'caller check', grant: 'grant', secret: 'secret', mint: 'mint', audit: 'audit' } satisfies Record<StageName, string>,
  dependency: { keyvault: 'Key Vault', entra: 'Entra ID', databricks: 'Databricks', table: 'Table storage' } satisfies Record<DependencyName, string>,
} as const;

export const METRIC_NAMES = {
  requests: 'vend.requests',
  duration: 'vend.request.duration',
  cacheLookups: 'vend.cache.lookups',
  upstreamErrors: 'vend.upstream.errors',
  auditBatchSize: 'vend.audit.batch.size',
} as const;

/**
 * A caller may choose its own x-request-id (128 characters of a safe alphabet), which is room
 * enough for a PAT or a short JWT: such an id is not sent.
 */
const CREDENTIAL_SHAPED = /dapi[0-9a-f]{32}|eyJ[A-Za-z0-9_-]*\.eyJ/;

const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];
// Table storage takes at most 100 entities per batch transaction.
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100];

/** Maps the core's Telemetry onto an OpenTelemetry tracer and meter. */
export function createOpenTelemetry(parts: OpenTelemetryParts): Telemetry {
  const { tracer, meter, contexts } = parts;
  const propagator = new W3CTraceContextPropagator();
  const requests = meter.createCounter(METRIC_NAMES.requests, { description: 'Requests by route, outcome, code, workspace and mode', unit: '{request}' });
  const duration = meter.createHistogram(METRIC_NAMES.duration, { description: 'Time to answer', unit: 'ms', advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS } });
  const cacheLookups = meter.createCounter(METRIC_NAMES.cacheLookups, { description: 'Cache lookups by cache and result (hit or miss)', unit: '{lookup}' });
  const upstreamErrors = meter.createCounter(METRIC_NAMES.upstreamErrors, { description: 'Failed upstream calls by dependency', unit: '{error}' });
  const batchSizes = meter.createHistogram(METRIC_NAMES.auditBatchSize, { description: 'Rows per audit batch transaction', unit: '{row}', advice: { explicitBucketBoundaries: BATCH_BUCKETS } });

  const within = <T>(span: Span, run: () => T, onError?: (err: unknown) => void): T =>
    settle(span, () => contexts.with(trace.setSpan(contexts.active(), span), run), onError);

  return {
    enabled: true,
    request(route, traceParent, run) {
      // Under the Functions host the invocation's span is the parent (the host records the request).
      const parent = traceParent ? propagator.extract(ROOT_CONTEXT, { traceparent: traceParent }, defaultTextMapGetter) : ROOT_CONTEXT;
      const kind = trace.getSpanContext(parent) ? SpanKind.INTERNAL : SpanKind.SERVER;
      const span = tracer.startSpan(`vend ${route}`, { kind, attributes: { 'vend.route': route } }, parent);
      const finish = (facts: RequestFacts): void => {
        span.setAttributes(requestAttributes(facts));
        if (facts.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        const labels = { 'vend.route': facts.route, 'vend.outcome': facts.outcome, 'vend.workspace': facts.workspace ?? '', 'vend.mode': facts.mode ?? '' };
        requests.add(1, { ...labels, 'vend.code': facts.code });
        duration.record(facts.durationMs, labels);
      };
      return contexts.with(trace.setSpan(parent, span), () => run(finish)).finally(() => span.end());
    },
    stage(stage, run) {
      return within(tracer.startSpan(SPAN_NAMES.stage[stage], { attributes: { 'vend.stage': stage } }, contexts.active()), run);
    },
    dependency(dependency, operation, run) {
      const span = tracer.startSpan(`${SPAN_NAMES.dependency[dependency]}: ${operation}`, {
        kind: SpanKind.CLIENT,
        attributes: { 'vend.dependency': dependency, 'vend.operation': operation },
      }, contexts.active());
      return within(span, run, (err) => upstreamErrors.add(1, { 'vend.dependency': dependency, 'error.type': errorType(err) }));
    },
    cache(cache, hit) {
      cacheLookups.add(1, { 'vend.cache': cache, 'vend.cache.result': hit ? 'hit' : 'miss' });
    },
    auditBatch(kind, rows) {
      batchSizes.record(rows, { 'vend.audit.kind': kind });
    },
    flush: parts.flush ?? (() => Promise.resolve()),
  };
}

function requestAttributes(f: RequestFacts): Attributes {
  const attributes: Attributes = {
    'vend.route': f.route,
    'http.response.status_code': f.status,
    'vend.outcome': f.outcome,
    'vend.code': f.code,
    'vend.request_id': CREDENTIAL_SHAPED.test(f.requestId) ? '(withheld)' : f.requestId,
  };
  if (f.workspace) attributes['vend.workspace'] = f.workspace;
  if (f.mode) attributes['vend.mode'] = f.mode;
  if (f.callerTenantId) attributes['vend.caller.tid'] = f.callerTenantId;
  if (f.callerObjectId) attributes['vend.caller.oid'] = f.callerObjectId;
  if (f.callerAppId) attributes['vend.caller.appid'] = f.callerAppId;
  return attributes;
}

/**
 * Ends the span when `run` returns or settles. A failure sets `error.type` (never the message or
 * the stack: no `recordException`), and the span's status to ERROR unless it was the caller's
 * mistake (a 4xx refusal is the service working).
 */
function settle<T>(span: Span, run: () => T, onError?: (err: unknown) => void): T {
  const failed = (err: unknown): void => {
    span.setAttribute('error.type', errorType(err));
    if (!(isVendingError(err) && err.status < 500)) span.setStatus({ code: SpanStatusCode.ERROR });
    onError?.(err);
    span.end();
  };
  let out: T;
  try {
    out = run();
  } catch (err) {
    failed(err);
    throw err;
  }
  if (!(out instanceof Promise)) {
    span.end();
    return out;
  }
  return out.then(
    (value: unknown) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      failed(err);
      throw err;
    },
  ) as T;
}
