import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { UpstreamRejectedError, UpstreamUnavailableError } from '../../src/core/errors';
import { KeyVaultSecretSource } from '../../src/core/azure';
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
