import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { inprocWorld } from './world';

// Key Vault challenge verification stays on (as in Azure): the SDK only sends its token after
// checking that the vault's host ends with "." + the host of the resource the challenge names.
// The sandbox vault, reached as kv.vault.localhost, names https://vault.localhost.
const sb = inject('sandbox');
const port = new URL(sb.vaultUrl).port;
const config = (keyVaultUrl: string): string => JSON.stringify({ ...sb.config, keyVaultUrl });

// *.localhost is loopback (RFC 6761); the resolver here does not know that, so this process is told.
const realLookup = dns.lookup.bind(dns);
type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
beforeAll(() => {
  (dns as { lookup: unknown }).lookup = (host: string, options: LookupOptions | Callback, callback?: Callback): void => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    const opts = typeof options === 'function' ? {} : options;
    if (!host.endsWith('.localhost')) return void (realLookup as (h: string, o: LookupOptions, c: Callback) => void)(host, opts, cb);
    if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
    else cb(null, '127.0.0.1', 4);
  };
});
afterAll(() => {
  (dns as { lookup: unknown }).lookup = realLookup;
});

describe('Key Vault challenge verification on', () => {
  it('vends when the challenge names a resource that matches the vault host', async () => {
    const w = inprocWorld({ VENDING_CONFIG: config(`https://kv.vault.localhost:${port}`), KEYVAULT_CHALLENGE_VERIFICATION: 'on' });
    expect(w.deps.config.service.keyVaultChallengeVerification).toBe(true);
    const reply = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'analytics-sandbox' } });
    expect(reply.status, reply.text).toBe(200);
  });

  it('refuses to send its token when the challenge names another resource (503, no token)', async () => {
    const w = inprocWorld({ VENDING_CONFIG: config(`https://127.0.0.1:${port}`), KEYVAULT_CHALLENGE_VERIFICATION: 'on' });
    const reply = await w.call('token', { method: 'POST', url: 'token', body: { workspace: 'analytics-sandbox' } });
    expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 503, code: 'upstream_unavailable' });
    expect(reply.text).not.toMatch(/vault\.azure\.net|127\.0\.0\.1|challenge/);
  });
});
