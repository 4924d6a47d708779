import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { describeError } from '../../src/core/errors/describe-error';
import { KeyVaultSecretSource } from '../../src/core/azure';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import { createLocalCa } from '../../src/dev/sandbox/ca';
import { startTcpProxy } from '../../src/dev/sandbox/tcp-proxy';
import type { TcpProxy } from '../../src/dev/sandbox/tcp-proxy';

// KeyVaultSecretSource against the sandbox's Key Vault over HTTPS, reached through a loopback
// proxy the test can cut: what the service does when the vault answers, refuses, or goes away.
const sb = inject('sandbox');
const etl = sb.apps.servicePrincipals['etl-sp'];
const credential = new ClientSecretCredential(sb.tenantId, sb.apps.vendingApp.clientId, sb.apps.vendingApp.secret, {
  authorityHost: sb.authorityHost, disableInstanceDiscovery: true,
});
let proxy: TcpProxy;

beforeAll(async () => {
  setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
  proxy = await startTcpProxy(Number(new URL(sb.vaultUrl).port));
});
afterAll(() => proxy.close());

function source(overrides: { vaultUrl?: string; deadlineMs?: number } = {}) {
  const outcomes: boolean[] = [];
  const clock = { time: Date.now(), now(): number { return this.time; } };
  const secrets = new KeyVaultSecretSource({
    vaultUrl: overrides.vaultUrl ?? `https://127.0.0.1:${proxy.port}`, credential, challengeVerification: false,
    ttlMs: 60_000, clock, onOutcome: (ok) => outcomes.push(ok), deadlineMs: overrides.deadlineMs ?? 5_000,
  });
  return { secrets, outcomes, clock };
}

describe('KeyVaultSecretSource (the sandbox vault over HTTPS)', () => {
  it('reads the secret with its version, shares one read between concurrent callers and caches it for the TTL', async () => {
    proxy.setDown(false);
    const { secrets, outcomes } = source();
    const [a, b] = await Promise.all([secrets.get(etl.secretName), secrets.get(etl.secretName)]);
    expect(a.value).toBe(etl.secret);
    expect(a.version).toMatch(/\S/);
    expect(b).toEqual(a);
    expect(outcomes).toEqual([true]);
    await secrets.get(etl.secretName);
    expect(outcomes).toEqual([true]);
  });

  it('serves the last good value when a refresh fails, but not when the latest is asked for', async () => {
    proxy.setDown(false);
    const { secrets, outcomes, clock } = source();
    const first = await secrets.get(etl.secretName);
    proxy.setDown(true);
    try {
      // Within the TTL: no read at all, so nothing fails.
      expect((await secrets.get(etl.secretName)).value).toBe(etl.secret);
      expect(outcomes).toEqual([true]);
      // Past the TTL the refresh fails, and the stale value still vends.
      clock.time += 60_001;
      expect(await secrets.get(etl.secretName)).toEqual(first);
      expect(outcomes).toEqual([true, false]);
      const error = await secrets.get(etl.secretName, { latest: true }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect((error as UpstreamUnavailableError).detail).toBe('Key Vault request failed (unreachable); no token was issued.');
      expect(outcomes).toEqual([true, false, false]);
    } finally {
      proxy.setDown(false);
    }
    // Back up: the latest is read again and the cache refreshed.
    expect((await secrets.get(etl.secretName, { latest: true })).value).toBe(etl.secret);
    expect(outcomes.at(-1)).toBe(true);
  });

  it('a secret that is not there is refused (404), naming neither the vault nor the secret', async () => {
    proxy.setDown(false);
    const { secrets, outcomes } = source();
    const error = await secrets.get('no-such-secret').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UpstreamRejectedError);
    const detail = (error as UpstreamRejectedError).detail;
    expect(detail).toContain('HTTP 404');
    expect(detail).not.toContain('no-such-secret');
    expect(detail).not.toContain('127.0.0.1');
    expect(outcomes).toEqual([false]);
  });

  it('a vault that accepts the connection and never answers fails at our own deadline', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { secrets, outcomes } = source({ vaultUrl: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`, deadlineMs: 300 });
      const started = Date.now();
      const error = await secrets.get(etl.secretName).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect((error as UpstreamUnavailableError).detail).toBe('Key Vault request failed (no answer in time); no token was issued.');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(outcomes).toEqual([false]);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('KeyVaultSecretSource: our own deadline, when the read ignores its abort signal', () => {
  it('fails at the deadline as "no answer in time", the cause saying how long it waited', async () => {
    const outcomes: boolean[] = [];
    // A read that never settles (as an SDK that ignores its signal would): only our race ends it.
    const stalled = { ...NO_TELEMETRY, dependency: () => new Promise<never>(() => undefined) };
    const secrets = new KeyVaultSecretSource({
      vaultUrl: 'https://127.0.0.1:9', credential, challengeVerification: false, deadlineMs: 50, telemetry: stalled, onOutcome: (ok) => outcomes.push(ok),
    });
    const error = await secrets.get('sp-secret').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as UpstreamUnavailableError).detail).toBe('Key Vault request failed (no answer in time); no token was issued.');
    expect((error as UpstreamUnavailableError).retryAfterSeconds).toBe(5);
    const cause = (error as UpstreamUnavailableError).cause as Error;
    expect({ name: cause.name, message: cause.message }).toEqual({ name: 'TimeoutError', message: 'no answer within 50 ms' });
    expect(outcomes).toEqual([false]);
  });
});

describe('KeyVaultSecretSource: what a vault answer must hold', () => {
  // A vault of our own over HTTPS (its own CA), answering the SDK's challenge and then as scripted.
  const SECRET_VALUE = 'sp-secret-value-never-echoed';
  let dir: string;
  let vault: HttpsServer;
  let vaultUrl: string;
  let answer: (name: string) => Record<string, unknown> = () => ({});
  /** How long the vault holds its answer to an authenticated read. */
  let holdMs = 0;
  /** Per authenticated read: whether the client gave up on it (closed it) before it was answered. */
  const abandoned: boolean[] = [];
  const vaultToken: TokenCredential = { getToken: () => Promise.resolve({ token: 'vault-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbx-vend-kv-'));
    const ca = await createLocalCa(dir);
    setDefaultCACertificates([...getCACertificates('default'), ca.caPem]);
    vault = createHttpsServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-4000-8000-000000000000", resource="https://vault.azure.net"' }).end();
        return;
      }
      const name = /^\/secrets\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '';
      res.once('close', () => abandoned.push(!res.writableEnded));
      const reply = (): void => void (res.destroyed || res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(name))));
      if (holdMs > 0) setTimeout(reply, holdMs);
      else reply();
    });
    await new Promise<void>((resolve) => vault.listen(0, '127.0.0.1', resolve));
    vaultUrl = `https://127.0.0.1:${(vault.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    vault?.closeAllConnections();
    await new Promise<void>((resolve) => (vault ? vault.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function kv(deadlineMs = 5_000) {
    holdMs = 0;
    abandoned.length = 0;
    const outcomes: boolean[] = [];
    const secrets = new KeyVaultSecretSource({ vaultUrl, credential: vaultToken, challengeVerification: false, deadlineMs, onOutcome: (ok) => outcomes.push(ok) });
    return { secrets, outcomes };
  }
  const attributes = { created: 1_700_000_000, updated: 1_700_000_000 };

  it.each<[string, Record<string, unknown>]>([
    ['disabled', { value: SECRET_VALUE, attributes: { ...attributes, enabled: false } }],
    ['empty', { value: '', attributes: { ...attributes, enabled: true } }],
  ])('a %s secret is refused as not in Key Vault (404), the log saying why, never the value', async (_kind, body) => {
    answer = (name) => ({ ...body, id: `${vaultUrl}/secrets/${name}/0123456789abcdef0123456789abcdef` });
    const { secrets, outcomes } = kv();
    const error = await secrets.get('sp-secret').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect((error as UpstreamRejectedError).detail).toBe("The service principal's credential is not in Key Vault (HTTP 404): the operators should check the configured secret name.");
    expect(describeError(error).cause).toMatchObject({ name: 'Error', message: 'secret disabled or empty', statusCode: 404 });
    expect(JSON.stringify(describeError(error))).not.toContain(SECRET_VALUE);
    expect(outcomes).toEqual([false]);
  });

  it('an enabled secret is read with its version and content type; one the vault names without a version has version ""', async () => {
    answer = (name) => ({ value: SECRET_VALUE, contentType: 'application/x-pem-file', id: `${vaultUrl}/secrets/${name}/0123456789abcdef0123456789abcdef`, attributes: { ...attributes, enabled: true } });
    const { secrets, outcomes } = kv();
    expect(await secrets.get('sp-secret')).toEqual({ value: SECRET_VALUE, version: '0123456789abcdef0123456789abcdef', contentType: 'application/x-pem-file' });
    answer = (name) => ({ value: SECRET_VALUE, id: `${vaultUrl}/secrets/${name}`, attributes });
    expect(await secrets.get('other-secret')).toEqual({ value: SECRET_VALUE, version: '', contentType: undefined });
    expect(outcomes).toEqual([true, true]);
  });

  it('a vault slower than the deadline: the read is abandoned at the deadline (the SDK is handed it), not left to finish', async () => {
    answer = (name) => ({ value: SECRET_VALUE, id: `${vaultUrl}/secrets/${name}/0123456789abcdef0123456789abcdef`, attributes });
    const { secrets, outcomes } = kv(150);
    holdMs = 600;
    const error = await secrets.get('sp-secret').catch((err: unknown) => err);
    expect((error as UpstreamUnavailableError).detail).toBe('Key Vault request failed (no answer in time); no token was issued.');
    expect(outcomes).toEqual([false]);
    await vi.waitFor(() => expect(abandoned).toEqual([true]), { timeout: 1_000, interval: 10 });
  });
});
