// The local sandbox, exercised with the real Azure SDK clients the product uses: if these pass,
// the product's Entra ID, Key Vault, Table and Databricks code can run against it unchanged.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { TableClient } from '@azure/data-tables';
import { AuthenticationRequiredError, ClientAssertionCredential, ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { createLocalJWKSet, decodeJwt, generateKeyPair, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../src/dev/sandbox/index.js';
import type { Sandbox } from '../src/dev/sandbox/index.js';

const DATABRICKS_APP_ID = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
const DATABRICKS_SCOPE = `${DATABRICKS_APP_ID}/.default`;
const MANAGEMENT_SCOPE = 'https://management.core.windows.net//.default';
const VAULT_SCOPE = 'https://vault.azure.net/.default';
const ME = '/api/2.0/preview/scim/v2/Me';

const systemCas = getCACertificates('default');
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
  // What NODE_EXTRA_CA_CERTS does for the host process, done in-process for the SDK clients here.
  setDefaultCACertificates([...systemCas, sandbox.caPem]);
});

afterAll(async () => {
  await sandbox?.stop();
  setDefaultCACertificates(systemCas);
});

function credential(clientId: string, secret: string): ClientSecretCredential {
  return new ClientSecretCredential(sandbox.tenantId, clientId, secret, {
    authorityHost: sandbox.authorityHost,
    disableInstanceDiscovery: true,
  });
}

async function spToken(name: 'etl-sp' | 'ops-sp', scope: string): Promise<string> {
  const sp = sandbox.apps.servicePrincipals[name];
  const token = await credential(sp.clientId, sp.secret).getToken(scope);
  return token.token;
}

function callWorkspace(path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.workspaceUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('local authority', () => {
  it('issues a Databricks token to etl-sp through the real ClientSecretCredential', async () => {
    sandbox.authority.resetCounters();
    const etl = sandbox.apps.servicePrincipals['etl-sp'];
    const token = await spToken('etl-sp', DATABRICKS_SCOPE);
    const claims = decodeJwt(token);
    const now = Date.now() / 1000;
    expect(claims.aud).toBe(DATABRICKS_APP_ID);
    expect(claims.appid).toBe(etl.clientId);
    expect(claims.iss).toBe(`${sandbox.authorityHost}/${sandbox.tenantId}/v2.0`);
    expect(claims.tid).toBe(sandbox.tenantId);
    expect(claims.idtyp).toBe('app');
    expect(claims.uti).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(claims.exp).toBeGreaterThan(now + 3500);
    expect(claims.exp).toBeLessThanOrEqual(now + 3600);
    expect(sandbox.authority.tokenRequests({ clientId: etl.clientId, scope: DATABRICKS_SCOPE })).toBe(1);
  });

  it('publishes keys through OIDC discovery over HTTPS that verify its tokens', async () => {
    const discovery = `${sandbox.authorityHost}/${sandbox.tenantId}/v2.0/.well-known/openid-configuration`;
    const metadata = (await (await fetch(discovery)).json()) as { issuer: string; jwks_uri: string };
    expect(metadata.issuer).toBe(`${sandbox.authorityHost}/${sandbox.tenantId}/v2.0`);
    const jwks = createLocalJWKSet((await (await fetch(metadata.jwks_uri)).json()) as JSONWebKeySet);
    const token = await spToken('etl-sp', DATABRICKS_SCOPE);
    const { payload } = await jwtVerify(token, jwks, { issuer: metadata.issuer, audience: DATABRICKS_APP_ID, algorithms: ['RS256'] });
    expect(payload.sub).toBe(payload.oid);
  });

  it('turns the management scope into the management audience', async () => {
    const claims = decodeJwt(await spToken('ops-sp', MANAGEMENT_SCOPE));
    expect(claims.aud).toBe('https://management.core.windows.net/');
  });

  it('refuses a wrong secret with invalid_client and never repeats the secret', async () => {
    const wrongSecret = 'not-the-secret-0123456789abcdef';
    const etl = sandbox.apps.servicePrincipals['etl-sp'];
    const error: unknown = await credential(etl.clientId, wrongSecret).getToken(DATABRICKS_SCOPE).catch((e: unknown) => e);
    // @azure/identity 4 wraps every token-endpoint refusal (an MSAL ServerError) in this class.
    expect(error).toBeInstanceOf(AuthenticationRequiredError);
    const message = (error as Error).message;
    expect(message).toMatch(/^invalid_client: .*AADSTS7000215/s);
    expect(message).not.toContain(wrongSecret);
  });

  it('refuses a rotated-out secret and accepts the new one', async () => {
    const other = sandbox.apps.otherCallerApp;
    sandbox.authority.setClientSecrets(other.clientId, ['rotated-secret-value-0123456789']);
    await expect(credential(other.clientId, other.secret).getToken(VAULT_SCOPE)).rejects.toThrow(/AADSTS7000215/);
    const token = await credential(other.clientId, 'rotated-secret-value-0123456789').getToken(VAULT_SCOPE);
    expect(decodeJwt(token.token).appid).toBe(other.clientId);
    sandbox.authority.setClientSecrets(other.clientId, [other.secret]);
  });

  it('accepts a federated assertion only from the registered subject', async () => {
    const { vendingApp, callerApp } = sandbox.apps;
    const clientId = randomUUID();
    sandbox.authority.registerClient(clientId, { federatedSubjects: [sandbox.authority.objectIdOf(vendingApp.clientId)!] });
    const assertionOf = (appId: string) => () => sandbox.authority.issueAccessToken(appId, 'api://AzureADTokenExchange/.default');
    const options = { authorityHost: sandbox.authorityHost, disableInstanceDiscovery: true };
    const federated = new ClientAssertionCredential(sandbox.tenantId, clientId, assertionOf(vendingApp.clientId), options);
    expect(decodeJwt((await federated.getToken(DATABRICKS_SCOPE)).token)).toMatchObject({ appid: clientId, azpacr: '2' });
    const impostor = new ClientAssertionCredential(sandbox.tenantId, clientId, assertionOf(callerApp.clientId), options);
    await expect(impostor.getToken(DATABRICKS_SCOPE)).rejects.toThrow(/AADSTS700027/);
  });

  it('answers another tenant with AADSTS90002', async () => {
    const response = await fetch(`${sandbox.authorityHost}/common/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error_description: string }).error_description).toMatch(/^AADSTS90002/);
  });

  it('signs caller tokens in-process, app-only by default, v1 and user on request', async () => {
    const jwks = createLocalJWKSet(sandbox.authority.jwks());
    const app = await jwtVerify(await sandbox.issueCallerToken(), jwks, {
      issuer: `${sandbox.authorityHost}/${sandbox.tenantId}/v2.0`, audience: 'api://dbx-token-vending',
    });
    expect(app.payload).toMatchObject({ appid: sandbox.apps.callerApp.clientId, roles: ['Vend.AnalyticsSandbox'], idtyp: 'app' });
    const v1 = decodeJwt(await sandbox.issueCallerToken({ issuer: 'v1', kind: 'user', omit: ['roles'] }));
    expect(v1).toMatchObject({ iss: `https://sts.windows.net/${sandbox.tenantId}/`, ver: '1.0', idtyp: 'user', scp: 'Vend.Token' });
    expect(v1.roles).toBeUndefined();
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await sandbox.issueCallerToken({ key: privateKey });
    await expect(jwtVerify(forged, jwks)).rejects.toThrow();
  });

  it('goes down and comes back', async () => {
    const discovery = `${sandbox.authorityHost}/${sandbox.tenantId}/v2.0/.well-known/openid-configuration`;
    sandbox.authority.setDown(true);
    await expect(fetch(discovery)).rejects.toThrow();
    sandbox.authority.setDown(false);
    expect((await fetch(discovery)).status).toBe(200);
    const keys = `${sandbox.authorityHost}/${sandbox.tenantId}/discovery/v2.0/keys`;
    sandbox.authority.setJwksDown(true);
    expect((await fetch(keys)).status).toBe(503);
    sandbox.authority.setJwksDown(false);
    expect((await fetch(keys)).status).toBe(200);
  });
});

describe('local Key Vault', () => {
  const vaultClient = (clientId: string, secret: string): SecretClient =>
    new SecretClient(sandbox.vaultUrl, credential(clientId, secret), { disableChallengeResourceVerification: true });

  it('serves a secret through the challenge protocol to the vending identity, version-aware', async () => {
    const { vendingApp, servicePrincipals } = sandbox.apps;
    const client = vaultClient(vendingApp.clientId, vendingApp.secret);
    sandbox.vault.resetCounters();
    const first = await client.getSecret('etl-sp-secret');
    expect(first.value).toBe(servicePrincipals['etl-sp'].secret);
    expect(sandbox.vault.secretReads('etl-sp-secret')).toBe(1);
    const newVersion = sandbox.vault.setSecret('etl-sp-secret', 'next-value');
    const latest = await client.getSecret('etl-sp-secret');
    expect(latest).toMatchObject({ value: 'next-value', properties: { version: newVersion } });
    const old = await client.getSecret('etl-sp-secret', { version: first.properties.version! });
    expect(old.value).toBe(servicePrincipals['etl-sp'].secret);
    await expect(client.getSecret('no-such-secret')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
  });

  it('records when each request arrived and when its answer left, injected delay included (the bench\'s cold trace)', async () => {
    sandbox.vault.faults.resetRequests();
    sandbox.vault.faults.set({ delayMs: 30 });
    try {
      const started = performance.now();
      expect((await fetch(`${sandbox.vaultUrl}/secrets/etl-sp-secret?api-version=7.6`)).status).toBe(401);
      const [entry, ...rest] = sandbox.vault.faults.timeline();
      expect(rest).toEqual([]);
      expect(entry?.path).toBe('/secrets/etl-sp-secret');
      expect(entry.at).toBeGreaterThanOrEqual(started);
      expect(entry.answeredAt - entry.at).toBeGreaterThanOrEqual(29);
      expect(entry.answeredAt).toBeLessThanOrEqual(performance.now());
    } finally {
      sandbox.vault.faults.clear();
      sandbox.vault.faults.resetRequests();
    }
    expect(sandbox.vault.faults.timeline()).toEqual([]);
  });

  it('challenges a request without a token', async () => {
    const response = await fetch(`${sandbox.vaultUrl}/secrets/etl-sp-secret?api-version=7.6`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer authorization="${sandbox.authorityHost}/${sandbox.tenantId}", resource="https://vault.azure.net"`);
  });

  it('refuses a token for another audience, and an app that is not a reader', async () => {
    sandbox.vault.resetCounters();
    const wrongAudience = await sandbox.authority.issueAccessToken(sandbox.apps.vendingApp.clientId, DATABRICKS_SCOPE);
    const response = await fetch(`${sandbox.vaultUrl}/secrets/etl-sp-secret?api-version=7.6`, { headers: bearer(wrongAudience) });
    expect(response.status).toBe(401);
    const other = sandbox.apps.otherCallerApp;
    await expect(vaultClient(other.clientId, other.secret).getSecret('etl-sp-secret')).rejects.toMatchObject({ statusCode: 403 });
    expect(sandbox.vault.secretReads()).toBe(0);
  });
});

describe('audit table (azurite behind the proxy)', () => {
  it('stores entities, fails while down and still has them afterwards', async () => {
    const table = TableClient.fromConnectionString(sandbox.audit.connectionString, sandbox.audit.tableName, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    await table.createEntity({ partitionKey: '20250101', rowKey: 'r1', outcome: 'issued' });
    const rows = [];
    for await (const row of table.listEntities()) rows.push(row);
    expect(rows).toMatchObject([{ partitionKey: '20250101', rowKey: 'r1', outcome: 'issued' }]);
    sandbox.audit.setDown(true);
    await expect(table.createEntity({ partitionKey: '20250101', rowKey: 'r2' })).rejects.toThrow();
    sandbox.audit.setDown(false);
    expect(await table.getEntity('20250101', 'r1')).toMatchObject({ outcome: 'issued' });
  });

  it('times each batch transaction from its arrival at the relay to the store\'s answer', async () => {
    const table = TableClient.fromConnectionString(sandbox.audit.connectionString, sandbox.audit.tableName, { allowInsecureConnection: true });
    sandbox.audit.resetBatchTimeline();
    sandbox.audit.setSlow(25);
    try {
      await table.createEntity({ partitionKey: '20250102', rowKey: 'single' });
      expect(sandbox.audit.batchTimeline()).toEqual([]);
      await table.submitTransaction([['create', { partitionKey: '20250102', rowKey: 'b1' }], ['create', { partitionKey: '20250102', rowKey: 'b2' }]]);
    } finally {
      sandbox.audit.setSlow(0);
    }
    const [batch, ...rest] = sandbox.audit.batchTimeline();
    expect(rest).toEqual([]);
    expect(batch.answeredAt - batch.at).toBeGreaterThanOrEqual(24);
    sandbox.audit.resetBatchTimeline();
    expect(sandbox.audit.batchTimeline()).toEqual([]);
  });
});

describe('local Databricks workspace', () => {
  it('accepts a member SP token on /Me', async () => {
    const response = await callWorkspace(ME, bearer(await spToken('etl-sp', DATABRICKS_SCOPE)));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ userName: sandbox.apps.servicePrincipals['etl-sp'].clientId, active: true });
  });

  it('rejects no token and a token for another audience with 401, without echoing it', async () => {
    expect((await callWorkspace(ME, {})).status).toBe(401);
    const vaultToken = await spToken('etl-sp', VAULT_SCOPE);
    const response = await callWorkspace(ME, bearer(vaultToken));
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain(vaultToken.slice(-20));
  });

  it('admits a non-member SP only with its management token and the workspace resource id', async () => {
    const ops = sandbox.apps.servicePrincipals['ops-sp'];
    const token = await spToken('ops-sp', DATABRICKS_SCOPE);
    const management = await spToken('ops-sp', MANAGEMENT_SCOPE);
    expect((await callWorkspace(ME, bearer(token))).status).toBe(403);
    const wrongResource = { 'x-databricks-azure-sp-management-token': management, 'x-databricks-azure-workspace-resource-id': '/subscriptions/x' };
    expect((await callWorkspace(ME, { ...bearer(token), ...wrongResource })).status).toBe(403);
    const otherAppsManagement = {
      'x-databricks-azure-sp-management-token': await spToken('etl-sp', MANAGEMENT_SCOPE),
      'x-databricks-azure-workspace-resource-id': sandbox.workspaceResourceId,
    };
    expect((await callWorkspace(ME, { ...bearer(token), ...otherAppsManagement })).status).toBe(403);
    const response = await callWorkspace(ME, {
      ...bearer(token),
      'x-databricks-azure-sp-management-token': management,
      'x-databricks-azure-workspace-resource-id': sandbox.workspaceResourceId,
    });
    expect(response.status).toBe(200);
    expect(sandbox.workspace.isMember(ops.clientId)).toBe(true);
    sandbox.workspace.removeServicePrincipal(ops.clientId);
  });

  it('creates a PAT that works until it is deleted', async () => {
    const aad = bearer(await spToken('etl-sp', DATABRICKS_SCOPE));
    const created = (await (await callWorkspace('/api/2.0/token/create', aad, { lifetime_seconds: 600, comment: 'test' })).json()) as {
      token_value: string; token_info: { token_id: string; expiry_time: number };
    };
    expect(created.token_value).toMatch(/^dapi[0-9a-f]{32}$/);
    expect(created.token_info.expiry_time).toBeGreaterThan(Date.now() + 590_000);
    expect((await callWorkspace('/api/2.0/clusters/list', bearer(created.token_value))).status).toBe(200);
    const deleted = await callWorkspace('/api/2.0/token/delete', aad, { token_id: created.token_info.token_id });
    expect(deleted.status).toBe(200);
    expect((await callWorkspace(ME, bearer(created.token_value))).status).toBe(401);
    const again = await callWorkspace('/api/2.0/token/delete', aad, { token_id: created.token_info.token_id });
    expect(await again.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
  });
});

describe('stop()', () => {
  it('closes every server and removes the temp dir', async () => {
    const { caFile, authorityHost, audit } = sandbox;
    await sandbox.stop();
    await sandbox.stop();
    expect(existsSync(caFile)).toBe(false);
    await expect(fetch(`${authorityHost}/x`)).rejects.toThrow();
    const table = TableClient.fromConnectionString(audit.connectionString, audit.tableName, {
      allowInsecureConnection: true, retryOptions: { maxRetries: 0 },
    });
    await expect(table.getEntity('20250101', 'r1')).rejects.toThrow();
  });
});
