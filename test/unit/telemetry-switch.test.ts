import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { readServiceSettings } from '../../src/core/config/service-settings';
import { startTelemetry } from '../../src/core/azure';
import { NO_TELEMETRY, errorType, flushTelemetry } from '../../src/core/telemetry';
import { ingestionCredential } from '../../src/core/telemetry/start-telemetry';
import { InvalidTokenError, UpstreamUnavailableError } from '../../src/core/errors';

const appCredential: TokenCredential = { getToken: () => Promise.resolve(null) };
const KEY = '00000000-0000-4000-8000-000000000000';

describe('telemetry switch', () => {
  it('is off without a connection string: the no-op, which runs what it is given and nothing else', async () => {
    const t = startTelemetry({ connectionString: undefined, authenticationString: 'Authorization=AAD' }, { appCredential, version: 'test' });
    expect(t).toBe(NO_TELEMETRY);
    expect(t.enabled).toBe(false);
    expect(t.stage('grant', () => 7)).toBe(7);
    await expect(t.dependency('keyvault', 'get secret', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(t.request('token', undefined, (finish) => (finish({ route: 'token', status: 200, code: 'ok', outcome: 'ok', requestId: 'r', durationMs: 1 }), Promise.resolve(3)))).resolves.toBe(3);
  });

  it('loads no OpenTelemetry module while off; with a connection string it is on, and one the exporter refuses leaves it off with a warning naming no value', async () => {
    // The build output, in a fresh process: require.cache shows what was loaded.
    const script = [
      `const { startTelemetry } = require(${JSON.stringify(join(process.cwd(), 'dist', 'src', 'core', 'telemetry', 'start-telemetry'))});`,
      "const loaded = () => Object.keys(require.cache).some((f) => /@opentelemetry|monitor-opentelemetry/.test(f));",
      "const app = { getToken: async () => null }; const warnings = [];",
      "const off = startTelemetry({}, { appCredential: app, version: 't' }); const offLoaded = loaded();",
      "const refused = startTelemetry({ connectionString: 'InstrumentationKey=not-a-key-secretish' }, { appCredential: app, version: 't', warn: (m) => warnings.push(m) });",
      `const on = startTelemetry({ connectionString: 'InstrumentationKey=${KEY};IngestionEndpoint=https://127.0.0.1:9/' }, { appCredential: app, version: 't' });`,
      "console.log(JSON.stringify({ off: off.enabled, offLoaded, refused: refused.enabled, warnings, on: on.enabled, onLoaded: loaded() })); process.exit(0);",
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true' }, timeout: 30_000 });
    const r = JSON.parse(stdout) as { off: boolean; offLoaded: boolean; refused: boolean; warnings: string[]; on: boolean; onLoaded: boolean };
    expect(r).toMatchObject({ off: false, offLoaded: false, refused: false, on: true, onLoaded: true });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/telemetry is off/);
    expect(r.warnings[0]).not.toContain('secretish');
  });

  it('reads the connection string and the authentication string from the host-level settings', () => {
    const env = { AUDIT_CONNECTION_STRING: 'UseDevelopmentStorage=true', AUDIT_HMAC_KEY: Buffer.alloc(32, 7).toString('base64'), APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${KEY}`, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' };
    const issues: string[] = [];
    expect(readServiceSettings(env, issues)?.telemetry, issues.join('; ')).toEqual({ connectionString: `InstrumentationKey=${KEY}`, authenticationString: 'Authorization=AAD', samplingRatio: 1 });
    expect(readServiceSettings({ ...env, OTEL_TRACES_SAMPLER_ARG: '0.25' }, [])?.telemetry.samplingRatio).toBe(0.25);
    const bad: string[] = [];
    readServiceSettings({ ...env, OTEL_TRACES_SAMPLER_ARG: '25%' }, bad);
    expect(bad).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 (the share of traces sent)']);
    expect(readServiceSettings({ ...env, APPLICATIONINSIGHTS_CONNECTION_STRING: '' }, [])?.telemetry.connectionString).toBeUndefined();
  });

  it('signs ingestion in as the managed identity the authentication string names, or as the app, only with Authorization=AAD', () => {
    expect(ingestionCredential(undefined, appCredential)).toBeUndefined();
    expect(ingestionCredential('ClientId=abc', appCredential)).toBeUndefined();
    expect(ingestionCredential('Authorization=AAD', appCredential)).toBe(appCredential);
    expect(ingestionCredential('authorization=aad', appCredential)).toBe(appCredential);
    expect(ingestionCredential('ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD', appCredential)).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('flushes at shutdown within a bound, whether the export hangs or fails', async () => {
    let flushed = 0;
    const hanging = { ...NO_TELEMETRY, enabled: true, flush: () => ((flushed += 1), new Promise<void>(() => undefined)) };
    const failing = { ...NO_TELEMETRY, enabled: true, flush: () => ((flushed += 1), Promise.reject(new Error('ingestion down'))) };
    const started = Date.now();
    await expect(flushTelemetry(hanging, 50)).resolves.toBeUndefined();
    await expect(flushTelemetry(failing, 5_000)).resolves.toBeUndefined();
    await expect(flushTelemetry(undefined)).resolves.toBeUndefined();
    expect(flushed).toBe(2);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('names a failure by code, status or timeout, never by message', () => {
    expect(errorType(new UpstreamUnavailableError('Key Vault at https://kv.example/secrets/sp-secret failed'))).toBe('upstream_unavailable');
    expect(errorType(new InvalidTokenError('bad'))).toBe('invalid_token');
    expect(errorType(Object.assign(new Error('token eyJabc leaked'), { statusCode: 403 }))).toBe('http_403');
    expect(errorType(Object.assign(new Error('late'), { name: 'TimeoutError' }))).toBe('timeout');
    expect(errorType(new Error('secret value'))).toBe('error');
    expect(errorType('a string')).toBe('error');
  });
});
