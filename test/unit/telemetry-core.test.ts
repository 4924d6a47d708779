import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it, vi } from 'vitest';
import { InvalidTokenError, UpstreamUnavailableError, VendingError } from '../../src/core/errors';
import { METRIC_NAMES, SPAN_NAMES } from '../../src/core/telemetry/open-telemetry';
import { NO_TELEMETRY, flushTelemetry } from '../../src/core/telemetry/telemetry';
import type { RequestFacts, Telemetry } from '../../src/core/telemetry/telemetry';
import { inMemoryTelemetry } from '../support/in-memory-telemetry';
import { loadAnew } from '../support/load-anew';

// The OpenTelemetry adapter on its own, with the SDK's in-memory exporters: which span and metric
// each call makes, and what a failure marks. (test/telemetry.test.ts shows the same through real vends.)

function world(flush?: () => Promise<void>) {
  const { telemetry, spans, metrics, meterProvider } = inMemoryTelemetry(flush ?? 'none');
  const metric = async (name: string): Promise<MetricData | undefined> => {
    await meterProvider.forceFlush();
    return metrics.getMetrics().at(-1)?.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  };
  const points = async (name: string): Promise<DataPoint<unknown>[]> => (await metric(name))?.dataPoints ?? [];
  return { telemetry, spans: (): ReadableSpan[] => spans.getFinishedSpans(), metric, points };
}

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({ route: 'token', status: 200, code: 'issued', outcome: 'issued', requestId: 'req-1', durationMs: 12, ...over });
const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span "${name}" in ${spans.map((s) => s.name).join(', ')}`);
  return span;
};
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const never = new Promise<never>(() => undefined);

describe('OpenTelemetry adapter: the request span', () => {
  it('is a SERVER span named for the route, ended after the run, with every fact of a vend', async () => {
    const { telemetry, spans } = world();
    const result = await telemetry.request('token', undefined, (finish) => {
      expect(spans()).toEqual([]);
      finish(facts({ workspace: 'prod', mode: 'pat', callerTenantId: 'tid', callerObjectId: 'oid', callerAppId: 'appid' }));
      return Promise.resolve('answer');
    });
    expect(result).toBe('answer');
    const [span] = spans();
    expect(span?.name).toBe('vend token');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.attributes).toEqual({
      'vend.route': 'token', 'http.response.status_code': 200, 'vend.outcome': 'issued', 'vend.code': 'issued', 'vend.request_id': 'req-1',
      'vend.workspace': 'prod', 'vend.mode': 'pat', 'vend.caller.tid': 'tid', 'vend.caller.oid': 'oid', 'vend.caller.appid': 'appid',
    });
  });

  it('leaves out the facts a refusal does not have', async () => {
    const { telemetry, spans } = world();
    await telemetry.request('grants.list', undefined, (finish) => Promise.resolve(finish(facts({ route: 'grants.list', status: 401, code: 'invalid_token', outcome: 'denied' }))));
    expect(spans()[0]?.attributes).toEqual({ 'vend.route': 'grants.list', 'http.response.status_code': 401, 'vend.outcome': 'denied', 'vend.code': 'invalid_token', 'vend.request_id': 'req-1' });
  });

  it('sets no attribute at all for an absent or empty fact (not even an empty or undefined one)', async () => {
    const { telemetry, spans } = world();
    const absent = facts({ workspace: undefined, mode: undefined, callerTenantId: undefined, callerObjectId: undefined, callerAppId: undefined });
    const empty = facts({ workspace: '', mode: '', callerTenantId: '', callerObjectId: '', callerAppId: '' });
    for (const f of [absent, empty]) await telemetry.request('token', undefined, (finish) => Promise.resolve(finish(f)));
    for (const span of spans()) {
      expect(Object.keys(span.attributes).sort()).toEqual(['http.response.status_code', 'vend.code', 'vend.outcome', 'vend.request_id', 'vend.route']);
    }
  });

  it('marks a 5xx answer as an error, not a 499 or a 4xx', async () => {
    const statusOf = async (status: number): Promise<number | undefined> => {
      const { telemetry, spans } = world();
      await telemetry.request('token', undefined, (finish) => Promise.resolve(finish(facts({ status, outcome: 'failed' }))));
      return spans()[0]?.status.code;
    };
    expect(await statusOf(500)).toBe(SpanStatusCode.ERROR);
    expect(await statusOf(503)).toBe(SpanStatusCode.ERROR);
    expect(await statusOf(499)).toBe(SpanStatusCode.UNSET);
    expect(await statusOf(403)).toBe(SpanStatusCode.UNSET);
  });

  it('joins the host invocation\'s trace as an INTERNAL child; an unreadable traceparent starts a new trace', async () => {
    const { telemetry, spans } = world();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await telemetry.request('token', `00-${traceId}-00f067aa0ba902b7-01`, () => Promise.resolve());
    await telemetry.request('health', 'not a traceparent', () => Promise.resolve());
    const [joined, fresh] = spans();
    expect({ trace: joined?.spanContext().traceId, parent: joined && parentOf(joined), kind: joined?.kind }).toEqual({ trace: traceId, parent: '00f067aa0ba902b7', kind: SpanKind.INTERNAL });
    expect({ trace: fresh?.spanContext().traceId === traceId, parent: fresh && parentOf(fresh), kind: fresh?.kind }).toEqual({ trace: false, parent: undefined, kind: SpanKind.SERVER });
  });

  it('ends the span when the run fails, and passes the failure on', async () => {
    const { telemetry, spans } = world();
    await expect(telemetry.request('token', undefined, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(spans().map((s) => s.name)).toEqual(['vend token']);
    // The route is on the span from its start, so a request that never finished still has it.
    expect(spans()[0]?.attributes).toEqual({ 'vend.route': 'token' });
  });

  it('withholds a request id shaped like a PAT or a JWT, and keeps any other', async () => {
    const idOf = async (requestId: string): Promise<unknown> => {
      const { telemetry, spans } = world();
      await telemetry.request('token', undefined, (finish) => Promise.resolve(finish(facts({ requestId }))));
      return spans()[0]?.attributes['vend.request_id'];
    };
    expect(await idOf(`x-dapi${'0a'.repeat(16)}`)).toBe('(withheld)');
    expect(await idOf('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0')).toBe('(withheld)');
    expect(await idOf('eyJhbGciOiJub25lIn0')).toBe('eyJhbGciOiJub25lIn0');
    expect(await idOf(`dapi${'0a'.repeat(15)}`)).toBe(`dapi${'0a'.repeat(15)}`);
    expect(await idOf('dapiXYZ')).toBe('dapiXYZ');
    expect(await idOf('7d3f2c4e-req')).toBe('7d3f2c4e-req');
  });
});

describe('OpenTelemetry adapter: stages and upstream calls', () => {
  it('nests stages and dependencies under the current span, across awaits', async () => {
    const { telemetry, spans } = world();
    await telemetry.request('token', undefined, async () => {
      await telemetry.stage('mint', async () => {
        await Promise.resolve();
        await telemetry.stage('secret', () => telemetry.dependency('keyvault', 'get secret', () => Promise.resolve('s')));
        await telemetry.dependency('entra', 'token', () => Promise.resolve('t'));
      });
      telemetry.stage('grant', () => 'sync');
    });
    const all = spans();
    const root = named(all, 'vend token');
    const mint = named(all, SPAN_NAMES.stage.mint);
    const secret = named(all, 'secret');
    expect(parentOf(mint)).toBe(root.spanContext().spanId);
    expect(parentOf(named(all, 'grant'))).toBe(root.spanContext().spanId);
    expect(parentOf(secret)).toBe(mint.spanContext().spanId);
    expect(parentOf(named(all, 'Key Vault: get secret'))).toBe(secret.spanContext().spanId);
    const entra = named(all, 'Entra ID: token');
    expect(parentOf(entra)).toBe(mint.spanContext().spanId);
    expect({ kind: entra.kind, attributes: entra.attributes }).toEqual({ kind: SpanKind.CLIENT, attributes: { 'vend.dependency': 'entra', 'vend.operation': 'token' } });
    expect(mint.attributes).toEqual({ 'vend.stage': 'mint' });
    expect(mint.kind).toBe(SpanKind.INTERNAL);
    expect(all.every((s) => s.status.code === SpanStatusCode.UNSET && s.attributes['error.type'] === undefined)).toBe(true);
  });

  it('names every stage and dependency as the README\'s queries do', async () => {
    const { telemetry, spans } = world();
    for (const stage of ['caller', 'grant', 'secret', 'mint', 'audit'] as const) telemetry.stage(stage, () => undefined);
    for (const dependency of ['keyvault', 'entra', 'databricks', 'table'] as const) await telemetry.dependency(dependency, 'token', () => Promise.resolve());
    expect(spans().map((s) => s.name)).toEqual(['caller check', 'grant', 'secret', 'mint', 'audit', 'Key Vault: token', 'Entra ID: token', 'Databricks: token', 'Table storage: token']);
  });

  it('returns a stage\'s value as it is: a plain value stays plain, a promise resolves to its value', async () => {
    const { telemetry, spans } = world();
    expect(telemetry.stage('grant', () => 42)).toBe(42);
    expect(spans()).toHaveLength(1);
    const pending = telemetry.stage('audit', () => Promise.resolve('durable'));
    expect(spans()).toHaveLength(1); // not ended before it settles
    expect(await pending).toBe('durable');
    expect(spans()).toHaveLength(2);
  });

  it('a stage that throws: error type, ERROR status, span ended, error passed on', () => {
    const { telemetry, spans } = world();
    const err = new UpstreamUnavailableError('x');
    expect(() => telemetry.stage('mint', () => { throw err; })).toThrow(err);
    expect(spans()[0]?.attributes['error.type']).toBe('upstream_unavailable');
    expect(spans()[0]?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(spans()[0]?.events).toEqual([]);
  });

  it('a known error with a 5xx status, 500 included, marks the span as an error', () => {
    class BrokenError extends VendingError {
      readonly code = 'internal_error' as const;
      readonly status = 500;
      readonly title = 'Internal error';
    }
    const { telemetry, spans } = world();
    expect(() => telemetry.stage('grant', () => { throw new BrokenError({ detail: 'd' }); })).toThrow(BrokenError);
    expect({ type: spans()[0]?.attributes['error.type'], status: spans()[0]?.status.code }).toEqual({ type: 'internal_error', status: SpanStatusCode.ERROR });
  });

  it('a caller\'s mistake is typed but not an error: the service worked', async () => {
    const { telemetry, spans } = world();
    await expect(telemetry.stage('caller', () => Promise.reject(new InvalidTokenError('expired')))).rejects.toBeInstanceOf(InvalidTokenError);
    expect({ type: spans()[0]?.attributes['error.type'], status: spans()[0]?.status.code }).toEqual({ type: 'invalid_token', status: SpanStatusCode.UNSET });
  });

  it('a failed upstream call counts once in vend.upstream.errors by dependency and type, never with its message', async () => {
    const { telemetry, spans, points } = world();
    const failure = Object.assign(new Error('https://vault.example/secrets/sp-secret?api-version refused'), { statusCode: 429 });
    await expect(telemetry.dependency('keyvault', 'get secret', () => Promise.reject(failure))).rejects.toBe(failure);
    await telemetry.dependency('keyvault', 'get secret', () => Promise.resolve());
    const [failed, ok] = spans();
    expect({ type: failed?.attributes['error.type'], status: failed?.status, events: failed?.events }).toEqual({ type: 'http_429', status: { code: SpanStatusCode.ERROR }, events: [] });
    expect(ok?.attributes['error.type']).toBeUndefined();
    expect((await points(METRIC_NAMES.upstreamErrors)).map((p) => [p.attributes, p.value])).toEqual([[{ 'vend.dependency': 'keyvault', 'error.type': 'http_429' }, 1]]);
    expect(JSON.stringify(spans().map((s) => [s.attributes, s.status]))).not.toContain('vault.example');
  });
});

describe('OpenTelemetry adapter: metrics', () => {
  it('counts requests by route, outcome, code, workspace and mode; times them without the code', async () => {
    const { telemetry, metric, points } = world();
    for (const f of [facts({ workspace: 'prod', mode: 'aad', durationMs: 7 }), facts({ workspace: 'prod', mode: 'aad', durationMs: 30 }), facts({ status: 403, code: 'not_granted', outcome: 'denied', durationMs: 3 })]) {
      await telemetry.request(f.route, undefined, (finish) => Promise.resolve(finish(f)));
    }
    expect((await points(METRIC_NAMES.requests)).map((p) => [p.attributes, p.value])).toEqual([
      [{ 'vend.route': 'token', 'vend.outcome': 'issued', 'vend.workspace': 'prod', 'vend.mode': 'aad', 'vend.code': 'issued' }, 2],
      [{ 'vend.route': 'token', 'vend.outcome': 'denied', 'vend.workspace': '', 'vend.mode': '', 'vend.code': 'not_granted' }, 1],
    ]);
    const duration = await metric(METRIC_NAMES.duration);
    expect(duration?.descriptor.unit).toBe('ms');
    const [issued, denied] = (duration?.dataPoints ?? []) as DataPoint<Histogram>[];
    expect(issued?.attributes).toEqual({ 'vend.route': 'token', 'vend.outcome': 'issued', 'vend.workspace': 'prod', 'vend.mode': 'aad' });
    expect({ count: issued?.value.count, sum: issued?.value.sum, min: issued?.value.min, max: issued?.value.max }).toEqual({ count: 2, sum: 37, min: 7, max: 30 });
    expect(issued?.value.buckets.boundaries).toEqual([5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]);
    expect(issued?.value.buckets.counts.slice(0, 4)).toEqual([0, 1, 0, 1]);
    expect(denied?.value.count).toBe(1);
    expect((await metric(METRIC_NAMES.requests))?.descriptor.unit).toBe('{request}');
  });

  it('counts cache lookups by cache and result', async () => {
    const { telemetry, points } = world();
    telemetry.cache('sp_token', true);
    telemetry.cache('sp_token', true);
    telemetry.cache('secret', false);
    expect((await points(METRIC_NAMES.cacheLookups)).map((p) => [p.attributes, p.value])).toEqual([
      [{ 'vend.cache': 'sp_token', 'vend.cache.result': 'hit' }, 2],
      [{ 'vend.cache': 'secret', 'vend.cache.result': 'miss' }, 1],
    ]);
  });

  it('records audit batch sizes by kind in buckets up to Table storage\'s 100 rows', async () => {
    const { telemetry, metric } = world();
    telemetry.auditBatch('issuance', 1);
    telemetry.auditBatch('issuance', 100);
    telemetry.auditBatch('refusal', 3);
    const batches = await metric(METRIC_NAMES.auditBatchSize);
    const [issuance, refusal] = (batches?.dataPoints ?? []) as DataPoint<Histogram>[];
    expect(batches?.descriptor.unit).toBe('{row}');
    expect({ kind: issuance?.attributes, sum: issuance?.value.sum, boundaries: issuance?.value.buckets.boundaries }).toEqual({ kind: { 'vend.audit.kind': 'issuance' }, sum: 101, boundaries: [1, 2, 5, 10, 20, 50, 100] });
    expect({ kind: refusal?.attributes, sum: refusal?.value.sum }).toEqual({ kind: { 'vend.audit.kind': 'refusal' }, sum: 3 });
  });

  it('describes every instrument and gives its unit', async () => {
    const { telemetry, metric } = world();
    await telemetry.request('token', undefined, (finish) => Promise.resolve(finish(facts())));
    telemetry.cache('secret', true);
    await expect(telemetry.dependency('entra', 'token', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    telemetry.auditBatch('refusal', 2);
    const descriptors = await Promise.all(Object.values(METRIC_NAMES).map(async (name) => {
      const d = (await metric(name))?.descriptor;
      return [name, d?.description, d?.unit];
    }));
    expect(descriptors).toEqual([
      ['vend.requests', 'Requests by route, outcome, code, workspace and mode', '{request}'],
      ['vend.request.duration', 'Time to answer', 'ms'],
      ['vend.cache.lookups', 'Cache lookups by cache and result (hit or miss)', '{lookup}'],
      ['vend.upstream.errors', 'Failed upstream calls by dependency', '{error}'],
      ['vend.audit.batch.size', 'Rows per audit batch transaction', '{row}'],
    ]);
  });

  it('flushes through the parts it was given, and without them resolves', async () => {
    const flush = vi.fn(() => Promise.resolve());
    await world(flush).telemetry.flush();
    expect(flush).toHaveBeenCalledTimes(1);
    await expect(world().telemetry.flush()).resolves.toBeUndefined();
  });
});

describe('telemetry off, and the flush at shutdown', () => {
  /** Telemetry that is off: each function it is handed runs, and nothing else happens. */
  async function expectRunsEachFunctionOnly(off: Telemetry): Promise<void> {
    expect(off.enabled).toBe(false);
    const finish = vi.fn();
    expect(await off.request('token', undefined, (f) => (f(facts()), finish(), Promise.resolve('a')))).toBe('a');
    expect(finish).toHaveBeenCalledTimes(1);
    expect(off.stage('grant', () => 7)).toBe(7);
    expect(await off.dependency('entra', 'token', () => Promise.resolve('t'))).toBe('t');
    expect(off.cache('secret', true)).toBeUndefined();
    expect(off.auditBatch('issuance', 1)).toBeUndefined();
    await expect(off.flush()).resolves.toBeUndefined();
  }

  it('NO_TELEMETRY runs each function and nothing else', async () => {
    await expectRunsEachFunctionOnly(NO_TELEMETRY);
  });

  it('NO_TELEMETRY as its module builds it when it loads (loaded anew, see loadAnew)', async () => {
    const { NO_TELEMETRY: off } = await loadAnew(() => import('../../src/core/telemetry/telemetry.js'));
    await expectRunsEachFunctionOnly(off);
  });

  const withFlush = (flush: () => Promise<void>, enabled = true): Telemetry => ({ ...NO_TELEMETRY, enabled, flush });

  it('flushes enabled telemetry only', async () => {
    const flush = vi.fn(() => Promise.resolve());
    await flushTelemetry(undefined);
    await flushTelemetry(withFlush(flush, false));
    expect(flush).not.toHaveBeenCalled();
    await flushTelemetry(withFlush(flush));
    expect(flush).toHaveBeenCalledTimes(1);
  });

  it('gives up on a flush that never ends after its bound, and on one that fails at once', async () => {
    vi.useFakeTimers();
    try {
      let done = false;
      const pending = flushTelemetry(withFlush(() => never), 5_000).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
      await pending;
      // The default bound is 5 s too.
      let byDefault = false;
      const pendingDefault = flushTelemetry(withFlush(() => never)).then(() => (byDefault = true));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(byDefault).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await pendingDefault;
      expect(byDefault).toBe(true);
      await expect(flushTelemetry(withFlush(() => Promise.reject(new Error('exporter down'))))).resolves.toBeUndefined();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
