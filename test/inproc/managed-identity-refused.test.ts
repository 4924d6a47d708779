import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/core/config';
import { createVendDeps } from '../../src/core/azure';
import { makeRoutes } from '../../src/functions/routes';
import { inprocWorld } from './world';

// The production credential path: createVendDeps with no injected credential, so the real
// DefaultAzureCredential finds the App Service managed identity (IDENTITY_ENDPOINT +
// IDENTITY_HEADER, as Azure Functions sets them) and uses it for Key Vault. Here the header is
// wrong, which proves the token really comes from that endpoint. (Its own file: MSAL keeps the
// managed identity source and its tokens process-wide, and each test file runs in a fresh process.)
const sb = inject('sandbox');
const { callerToken } = inprocWorld();

beforeAll(() => {
  setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
  vi.stubEnv('IDENTITY_ENDPOINT', sb.managedIdentity.endpoint);
  vi.stubEnv('IDENTITY_HEADER', 'not-the-identity-header');
  // Nothing else of an identity is in the environment: no client secret, no tenant.
  for (const name of ['AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'MSI_ENDPOINT']) vi.stubEnv(name, undefined);
});
afterAll(() => vi.unstubAllEnvs());

async function vendWithProductionCredential(): Promise<{ status: number | undefined; body: string }> {
  const env = { ...sb.hostEnv };
  delete env.AZURE_CLIENT_SECRET;
  delete env.AZURE_TENANT_ID;
  const deps = createVendDeps(loadConfig(env));
  const route = makeRoutes(deps).find((r) => r.name === 'token');
  if (!route) throw new Error('no token route');
  const request = new HttpRequest({
    method: 'POST', url: 'http://localhost/api/token',
    headers: { authorization: `Bearer ${await callerToken()}`, 'content-type': 'application/json' },
    body: { string: JSON.stringify({ workspace: 'analytics-sandbox' }) },
  });
  const res = await route.handler(request, new InvocationContext({ functionName: 'token' }));
  return { status: res.status, body: typeof res.body === 'string' ? res.body : '' };
}

describe('managed identity with a wrong IDENTITY_HEADER', () => {
  it('without the right identity header the app has no identity: Key Vault cannot be read, no token', async () => {
    const res = await vendWithProductionCredential();
    expect(res.status).toBe(503);
    expect(res.body).not.toContain('access_token');
  });

});
