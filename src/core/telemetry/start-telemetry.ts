import { ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { describeError } from '../errors';
import type * as AzureMonitor from './azure-monitor';
import { NO_TELEMETRY } from './telemetry';
import type { Telemetry } from './telemetry';

export interface TelemetrySettings {
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: absent, telemetry is off and none of its code is loaded. */
  readonly connectionString: string | undefined;
  /** APPLICATIONINSIGHTS_AUTHENTICATION_STRING, as the Functions host reads it: `ClientId=<id>;Authorization=AAD`. */
  readonly authenticationString: string | undefined;
  /** OTEL_TRACES_SAMPLER_ARG: the share of traces kept (whole traces; metrics are never sampled). Default 1. */
  readonly samplingRatio?: number;
}

export interface StartTelemetryOptions {
  /** The app's own credential: used for ingestion when the authentication string names no client id. */
  readonly appCredential: TokenCredential;
  readonly version: string;
  readonly warn?: (message: string) => void;
  /** Loads the Azure Monitor module; by default it is required only here, when telemetry is on. */
  readonly loadAzureMonitor?: () => typeof AzureMonitor;
}

/**
 * Telemetry on when a connection string is set, off otherwise. The exporter and the OpenTelemetry
 * SDK are required here, synchronously and only when on (routes are registered at load, so the
 * first request is traced too). Telemetry never stops the service: a connection string the
 * exporter refuses is reported (names only) and the app runs without telemetry.
 */
export function startTelemetry(settings: TelemetrySettings, options: StartTelemetryOptions): Telemetry {
  if (!settings.connectionString) return NO_TELEMETRY;
  try {
    const { startAzureMonitor } = (options.loadAzureMonitor ?? requireAzureMonitor)();
    const credential = ingestionCredential(settings.authenticationString, options.appCredential);
    return startAzureMonitor({ connectionString: settings.connectionString, credential, version: options.version, samplingRatio: settings.samplingRatio ?? 1 });
  } catch (err) {
    // Name and code only: the exporter's message may quote the connection string.
    const { name, code } = describeError(err);
    (options.warn ?? console.warn)(`dbx-token-vending: telemetry is off, Azure Monitor could not be set up (${name}${code ? `, ${code}` : ''})`);
    return NO_TELEMETRY;
  }
}

/** Loaded lazily on purpose: with telemetry off, not one module of the SDK is evaluated. */
function requireAzureMonitor(): typeof AzureMonitor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./azure-monitor') as typeof AzureMonitor;
}

/**
 * The component refuses the instrumentation key alone when local auth is disabled (the template
 * does that): `Authorization=AAD` then signs the exports in as the named managed identity, which
 * needs Monitoring Metrics Publisher on the component, or as the app's credential when no client
 * id is named. Without `Authorization=AAD`, the key in the connection string is used.
 */
export function ingestionCredential(authenticationString: string | undefined, appCredential: TokenCredential): TokenCredential | undefined {
  const fields = new Map(
    (authenticationString ?? '').split(';').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()] as const;
    }),
  );
  if (fields.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  const clientId = fields.get('clientid');
  return clientId ? new ManagedIdentityCredential({ clientId }) : appCredential;
}
