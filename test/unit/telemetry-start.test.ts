import Module from 'node:module';
import { ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { describe, expect, it, vi } from 'vitest';
import { AuditUnavailableError } from '../../src/core/errors';
import * as AzureMonitor from '../../src/core/telemetry/azure-monitor';
import { errorType } from '../../src/core/telemetry/error-type';
import { ingestionCredential, startTelemetry } from '../../src/core/telemetry/start-telemetry';
import { NO_TELEMETRY } from '../../src/core/telemetry/telemetry';

const appCredential: TokenCredential = { getToken: () => Promise.resolve(null) };
const KEY = '00000000-0000-4000-8000-000000000001';

describe('errorType: the one word a failed upstream call is reported by', () => {
  it('is the problem code, the HTTP status, timeout, or error — never the message', () => {
    expect(errorType(new AuditUnavailableError({ detail: 'the audit table at https://acct.table.core.windows.net' }))).toBe('audit_unavailable');
    expect(errorType(Object.assign(new Error('secret sp-prod not found at https://kv.vault.azure.net'), { statusCode: 404 }))).toBe('http_404');
    expect(errorType({ statusCode: 503 })).toBe('http_503');
    expect(errorType({ statusCode: 503.5 })).toBe('error');
    expect(errorType({ statusCode: '503' })).toBe('error');
    expect(errorType(Object.assign(new Error('slow'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(errorType(Object.assign(new Error('gone'), { name: 'AbortError' }))).toBe('timeout');
    expect(errorType({ name: 'TimeoutError' })).toBe('error');
    expect(errorType(new TypeError('fetch failed'))).toBe('error');
    expect(errorType(undefined)).toBe('error');
    expect(errorType('a string')).toBe('error');
  });
});

describe('ingestionCredential: how exports sign in (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)', () => {
  it('Authorization=AAD with a client id: that managed identity', () => {
    const credential = ingestionCredential(`ClientId=${KEY};Authorization=AAD`, appCredential);
    expect(credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(ingestionCredential(` clientid = ${KEY} ; AUTHORIZATION = aad `, appCredential)).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('Authorization=AAD alone (or an empty client id): the app\'s own credential', () => {
    expect(ingestionCredential('Authorization=AAD', appCredential)).toBe(appCredential);
    expect(ingestionCredential('Authorization=aad;ClientId=', appCredential)).toBe(appCredential);
  });

  it('anything else: no credential, the connection string\'s key is used', () => {
    expect(ingestionCredential(undefined, appCredential)).toBeUndefined();
    expect(ingestionCredential('', appCredential)).toBeUndefined();
    expect(ingestionCredential(`ClientId=${KEY}`, appCredential)).toBeUndefined();
    expect(ingestionCredential('Authorization=Key', appCredential)).toBeUndefined();
    expect(ingestionCredential('Authorization=AADX', appCredential)).toBeUndefined();
    expect(ingestionCredential('XAuthorization=AAD', appCredential)).toBeUndefined();
  });
});

describe('startTelemetry', () => {
  it('is off, and warns of nothing, without a connection string', () => {
    const warn = vi.fn();
    expect(startTelemetry({ connectionString: undefined, authenticationString: 'Authorization=AAD' }, { appCredential, version: '1', warn, loadAzureMonitor: () => AzureMonitor })).toBe(NO_TELEMETRY);
    expect(startTelemetry({ connectionString: '', authenticationString: undefined }, { appCredential, version: '1', warn, loadAzureMonitor: () => AzureMonitor })).toBe(NO_TELEMETRY);
    expect(warn).not.toHaveBeenCalled();
  });

  it('is on with a connection string: spans and metrics go to the exporters', () => {
    const warn = vi.fn();
    const telemetry = startTelemetry(
      { connectionString: `InstrumentationKey=${KEY};IngestionEndpoint=https://127.0.0.1:9/`, authenticationString: undefined, samplingRatio: 0.5 },
      { appCredential, version: '1', warn, loadAzureMonitor: () => AzureMonitor },
    );
    expect(telemetry.enabled).toBe(true);
    expect(telemetry).not.toBe(NO_TELEMETRY);
    expect(telemetry.stage('grant', () => 'value')).toBe('value');
    expect(warn).not.toHaveBeenCalled();
  });

  it('hands the sampling ratio to Azure Monitor as configured, all traces by default', () => {
    const started: AzureMonitor.AzureMonitorOptions[] = [];
    const fake: typeof AzureMonitor = { startAzureMonitor: (o) => (started.push(o), NO_TELEMETRY) };
    const connectionString = `InstrumentationKey=${KEY}`;
    for (const samplingRatio of [0.25, 0, undefined]) {
      startTelemetry({ connectionString, authenticationString: undefined, ...(samplingRatio === undefined ? {} : { samplingRatio }) }, { appCredential, version: '7', loadAzureMonitor: () => fake });
    }
    expect(started.map((o) => o.samplingRatio)).toEqual([0.25, 0, 1]);
    expect(started[0]).toEqual({ connectionString, credential: undefined, version: '7', samplingRatio: 0.25 });
  });

  it('by default requires the Azure Monitor module next to it, and only when telemetry is on', () => {
    const on = { ...NO_TELEMETRY, enabled: true };
    const startAzureMonitor = vi.fn(() => on);
    const requested: string[] = [];
    const load = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
    const real = load._load;
    const spy = vi.spyOn(load, '_load').mockImplementation((request: string, ...rest: unknown[]) => {
      requested.push(request);
      return request === './azure-monitor' ? { startAzureMonitor } : real.call(load, request, ...rest);
    });
    try {
      expect(startTelemetry({ connectionString: undefined, authenticationString: undefined }, { appCredential, version: '1' })).toBe(NO_TELEMETRY);
      expect(requested).toEqual([]);
      const warn = vi.fn();
      expect(startTelemetry({ connectionString: `InstrumentationKey=${KEY}`, authenticationString: undefined }, { appCredential, version: '1', warn })).toBe(on);
      expect(requested).toEqual(['./azure-monitor']);
      expect(startAzureMonitor).toHaveBeenCalledOnce();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('a connection string the exporter refuses: off, with a warning that names the failure but never quotes the string', () => {
    const warn = vi.fn();
    const connectionString = 'IngestionEndpoint=https://secret-host.example/;Authorization=sig-abc123';
    expect(startTelemetry({ connectionString, authenticationString: undefined }, { appCredential, version: '1', warn, loadAzureMonitor: () => AzureMonitor })).toBe(NO_TELEMETRY);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0]?.[0]);
    expect(message).toBe('dbx-token-vending: telemetry is off, Azure Monitor could not be set up (Error)');
    expect(message).not.toContain('secret-host');
    expect(message).not.toContain('sig-abc123');
  });

  it('names the failure\'s code when it has one, and warns on the console by default', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const loadAzureMonitor = (): never => {
        throw Object.assign(new Error('cannot load from /opt/app/node_modules'), { code: 'MODULE_NOT_FOUND' });
      };
      expect(startTelemetry({ connectionString: `InstrumentationKey=${KEY}`, authenticationString: undefined }, { appCredential, version: '1', loadAzureMonitor })).toBe(NO_TELEMETRY);
      expect(warn.mock.calls).toEqual([['dbx-token-vending: telemetry is off, Azure Monitor could not be set up (Error, MODULE_NOT_FOUND)']]);
    } finally {
      warn.mockRestore();
    }
  });
});
