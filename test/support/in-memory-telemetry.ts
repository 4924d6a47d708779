import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createOpenTelemetry } from '../../src/core/telemetry/open-telemetry';
import type { Telemetry } from '../../src/core/telemetry';

/**
 * The OpenTelemetry adapter over the SDK's in-memory exporters: spans as they end, metrics when
 * flushed (cumulative; no periodic export). The adapter's flush is the meter's forceFlush, the
 * one given, or none (`'none'`: the adapter's own default).
 */
export function inMemoryTelemetry(flush: 'meter' | 'none' | (() => Promise<void>) = 'meter') {
  const spans = new InMemorySpanExporter();
  const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 })] });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const telemetry: Telemetry = createOpenTelemetry({
    tracer: tracerProvider.getTracer('test'),
    meter: meterProvider.getMeter('test'),
    contexts: new AsyncLocalStorageContextManager().enable(),
    ...(flush === 'none' ? {} : { flush: flush === 'meter' ? () => meterProvider.forceFlush() : flush }),
  });
  return { telemetry, spans, metrics, meterProvider, tracerProvider };
}
