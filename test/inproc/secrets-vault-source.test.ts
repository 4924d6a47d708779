import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import { KeyVaultSecretSource } from '../../src/core/azure';
import { NO_TELEMETRY } from '../../src/core/telemetry';
import type { Telemetry } from '../../src/core/telemetry';

// KeyVaultSecretSource against the sandbox's vault: the default cache lifetime and what it tells
// telemetry (a cache hit or miss per read, a dependency span per vault request).
const sb = inject('sandbox');
const etl = sb.apps.servicePrincipals['etl-sp'];
const credential = new ClientSecretCredential(sb.tenantId, sb.apps.vendingApp.clientId, sb.apps.vendingApp.secret, {
  authorityHost: sb.authorityHost, disableInstanceDiscovery: true,
});

beforeAll(() => setDefaultCACertificates([...getCACertificates('default'), sb.caPem]));

function source() {
  const seen: string[] = [];
  const telemetry: Telemetry = {
    ...NO_TELEMETRY,
    cache: (name, hit) => void seen.push(`cache ${name} ${hit ? 'hit' : 'miss'}`),
    dependency: (dependency, operation, run) => {
      seen.push(`${dependency} ${operation}`);
      return run();
    },
  };
  const clock = { time: Date.now(), now(): number { return this.time; } };
  const secrets = new KeyVaultSecretSource({ vaultUrl: sb.vaultUrl, credential, challengeVerification: false, clock, telemetry });
  return { secrets, seen, clock };
}

describe('KeyVaultSecretSource: cache lifetime and telemetry', () => {
  it('keeps a secret 10 minutes by default, to the millisecond, and tells telemetry each hit, miss and vault read', async () => {
    const { secrets, seen, clock } = source();
    const first = await secrets.get(etl.secretName);
    expect(first).toMatchObject({ value: etl.secret, version: expect.stringMatching(/\S/) as unknown });
    const start = clock.time;
    clock.time = start + 10 * 60_000 - 1;
    expect(await secrets.get(etl.secretName)).toBe(first);
    clock.time = start + 10 * 60_000;
    expect(await secrets.get(etl.secretName)).toEqual(first);
    expect(seen).toEqual(['cache secret miss', 'keyvault get secret', 'cache secret hit', 'cache secret miss', 'keyvault get secret']);
  });

  it('asked for the latest, reads the vault even with a fresh copy in hand', async () => {
    const { secrets, seen } = source();
    await secrets.get(etl.secretName);
    await secrets.get(etl.secretName, { latest: true });
    expect(seen).toEqual(['cache secret miss', 'keyvault get secret', 'cache secret miss', 'keyvault get secret']);
  });
});
