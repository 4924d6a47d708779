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
// IDENTITY_HEADER, as Azure Functions sets them) and uses it for Key Vault.
const sb = inject('sandbox');
const { callerToken } = inprocWorld();

beforeAll(() => {
  setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
  vi.stubEnv('IDENTITY_ENDPOINT', sb.managedIdentity.endpoint);
  vi.stubEnv('IDENTITY_HEADER', sb.managedIdentity.header);
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

describe('managed identity (App Service protocol) in the production wiring', () => {
  it('vends through Key Vault with the managed identity token; no client secret anywhere', async () => {
    const res = await vendWithProductionCredential();
    expect(res.status, res.body).toBe(200);
  });

  it('the endpoint refuses a request without the identity header, or with another api-version', async () => {
    const url = `${sb.managedIdentity.endpoint}?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&client_id=${sb.apps.vendingApp.clientId}`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'X-IDENTITY-HEADER': 'wrong' } })).status).toBe(401);
    expect((await fetch(url.replace('2019-08-01', '2017-09-01'), { headers: { 'X-IDENTITY-HEADER': sb.managedIdentity.header } })).status).toBe(400);
    const ok = await fetch(url, { headers: { 'X-IDENTITY-HEADER': sb.managedIdentity.header } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, string>;
    expect(body).toMatchObject({ token_type: 'Bearer', resource: 'https://vault.azure.net', client_id: sb.apps.vendingApp.clientId });
    expect(Number(body.expires_on)).toBeGreaterThan(Date.now() / 1000);
  });
});
