import { ApplicationInsightsSampler, AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import type { TokenCredential } from '@azure/identity';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createOpenTelemetry } from './open-telemetry';
import type { Telemetry } from './telemetry';

export interface AzureMonitorOptions {
  readonly connectionString: string;
  /** Entra ID sign-in for ingestion (the component disables local auth); absent: the key alone. */
  readonly credential: TokenCredential | undefined;
  readonly version: string;
  /** Share of traces kept, 0…1: Application Insights' own sampler, which keeps whole traces and records the rate so counts extrapolate. */
  readonly samplingRatio: number;
}

const SERVICE_NAME = 'dbx-token-vending';
/** Metrics are aggregated in process and sent once a minute (the exporter's own default interval too). */
const METRIC_EXPORT_MS = 60_000;

/**
 * Spans and metrics to Application Insights through the Azure Monitor exporters and the plain
 * OpenTelemetry SDK: no auto-instrumentation, so only the spans and metrics the core makes are
 * sent (the Functions host already records each request). `service.name` becomes the cloud role.
 */
export function startAzureMonitor(options: AzureMonitorOptions): Telemetry {
  const exporterOptions = { connectionString: options.connectionString, ...(options.credential ? { credential: options.credential } : {}) };
  const resource = resourceFromAttributes({ 'service.name': SERVICE_NAME, 'service.version': options.version });
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: new ApplicationInsightsSampler(options.samplingRatio),
    spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(exporterOptions))],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new AzureMonitorMetricExporter(exporterOptions), exportIntervalMillis: METRIC_EXPORT_MS })],
  });
  return createOpenTelemetry({
    tracer: tracerProvider.getTracer(SERVICE_NAME, options.version),
    meter: meterProvider.getMeter(SERVICE_NAME, options.version),
    contexts: new AsyncLocalStorageContextManager().enable(),
    flush: async () => {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
  });
}
