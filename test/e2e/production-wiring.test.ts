import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYED_SETTINGS, LOCAL_ONLY_SETTINGS } from '../../src/core/config/settings';
import { LOCAL_VAULT_RESOURCE, resolveLocalhostNames } from '../../src/dev/sandbox';
import type { Sandbox } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { appSettingsOf, bicepVersion, repoRoot, takeSnapshot } from '../support/bicep';
import { Stack } from './harness';

// The vend path with exactly the app settings infra/ writes, read from the compiled template (a
// Bicep snapshot: every module flattened). Literal values are used as they are; values Azure only
// knows at deployment (ARM expressions) are swapped for the sandbox's, one by one below; what
// cannot be honoured locally is listed with the reason, and both lists are held against the
// template, so a new setting cannot slip by. In particular: no connection string (audit and grants
// tables through AUDIT_TABLE_ENDPOINT / GRANTS_TABLE_ENDPOINT with the app's identity, azurite over
// HTTPS with OAuth), no client secret (the App Service managed identity endpoint), no audit key
// value (read from Key Vault by AUDIT_HMAC_SECRET_NAME) and Key Vault challenge verification on.

/** Public-cloud value of `environment().authentication.audiences[0]` (ARM's cloud metadata, `az cloud show`). */
const PUBLIC_MANAGEMENT_AUDIENCE = 'https://management.core.windows.net/';

interface Local {
  readonly sandbox: Sandbox;
  readonly vaultUrl: string;
}

/** Template settings whose value is an ARM expression, each with its local stand-in. */
const SWAPPED: Record<string, { readonly template: RegExp; local(l: Local): string }> = {
  // The deployer's document plus the vault's URL, https://<vault name><keyvaultDns suffix>. Locally the
  // sandbox's document and its vault by a name under vault.localhost: its challenge names
  // https://vault.localhost, which matches the host, so the SDK's challenge verification stays on.
  VENDING_CONFIG: {
    template: /'keyVaultUrl', format\('https:\/\/\{0\}\{1\}', 'kv-vend-[a-z0-9]+', environment\(\)\.suffixes\.keyvaultDns\)\)\)\]$/,
    local: (l) => JSON.stringify({ ...l.sandbox.config, keyVaultUrl: l.vaultUrl }),
  },
  // The user-assigned identity's client id: locally the identity the managed identity endpoint serves.
  AZURE_CLIENT_ID: { template: /userAssignedIdentities\/id-vend-[a-z0-9]+', '[\d-]+'\)\.clientId\]$/, local: (l) => l.sandbox.apps.vendingApp.clientId },
  // The audit account's table endpoint (https://<account>.table.core.windows.net/): azurite by a
  // production-style host name, since the setting refuses azurite's path-style URL.
  AUDIT_TABLE_ENDPOINT: { template: /storageAccounts\/staudit[a-z0-9]+', '[\d-]+'\)\.primaryEndpoints\.table\]$/, local: (l) => need(l.sandbox.audit.endpoint) },
  GRANTS_TABLE_ENDPOINT: { template: /storageAccounts\/staudit[a-z0-9]+', '[\d-]+'\)\.primaryEndpoints\.table\]$/, local: (l) => need(l.sandbox.grants.endpoint) },
  // The cloud's login endpoint: the sandbox's Entra ID.
  AZURE_AUTHORITY_HOST: { template: /environment\(\)\.authentication\.loginEndpoint/, local: (l) => l.sandbox.authorityHost },
  // The public cloud's value; the sandbox's Entra ID mints for any resource.
  AZURE_MANAGEMENT_SCOPE: {
    template: /^\[format\('\{0\}\/\.default', environment\(\)\.authentication\.audiences\[0\]\)\]$/,
    local: () => `${PUBLIC_MANAGEMENT_AUDIENCE}/.default`,
  },
};

const FUNCTIONS_HOST_STORAGE = 'the Functions host\'s own storage (triggers, the deployment package), read by the Functions runtime, not by the app: the local host has no Functions runtime';
const APP_INSIGHTS = 'telemetry to Application Insights, sent by the Functions host: there is no Application Insights locally';

/** Template settings the local run cannot honour, and why. They are not passed to the host. */
const NOT_HONOURED: Record<string, string> = {
  AzureWebJobsStorage__accountName: FUNCTIONS_HOST_STORAGE,
  AzureWebJobsStorage__blobServiceUri: FUNCTIONS_HOST_STORAGE,
  AzureWebJobsStorage__credential: FUNCTIONS_HOST_STORAGE,
  AzureWebJobsStorage__clientId: FUNCTIONS_HOST_STORAGE,
  APPLICATIONINSIGHTS_CONNECTION_STRING: APP_INSIGHTS,
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: APP_INSIGHTS,
};

/** What the local run adds: what App Service provides outside the app settings, and local trust. */
function added(l: Local): Record<string, string> {
  return {
    // Set by App Service for the managed identity; here the sandbox's Entra ID serves that protocol.
    IDENTITY_ENDPOINT: l.sandbox.authority.managedIdentity.endpoint,
    IDENTITY_HEADER: l.sandbox.authority.managedIdentity.header,
    // Azure's services present publicly trusted certificates; the sandbox's chain to its private CA.
    NODE_EXTRA_CA_CERTS: l.sandbox.caFile,
    // The local workspace listens on 127.0.0.1; in Azure a workspace host ends with .azuredatabricks.net.
    VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on',
  };
}
/** The only local-only switches the run may use (LOCAL_ONLY_SETTINGS); the rest stay unset, as in Azure. */
const LOCAL_SWITCHES_USED = ['NODE_EXTRA_CA_CERTS', 'VENDING_ALLOW_LOOPBACK_WORKSPACES'];

function need(value: string | undefined): string {
  if (!value) throw new Error('the sandbox was not started with productionStorage');
  return value;
}

let stack: Stack;
let host: SpawnedHost;
let template: Record<string, unknown> | undefined;
let env: Record<string, string>;
let restoreLookup: () => void;
let snapshotDir: string;

beforeAll(async () => {
  snapshotDir = await mkdtemp(join(tmpdir(), 'dbx-vend-wiring-'));
  const snapshot = (async () => ((await bicepVersion()) ? appSettingsOf(await takeSnapshot(snapshotDir, 'wiring', '')) : undefined))();
  [stack, template] = await Promise.all([Stack.start({ productionStorage: true }), snapshot]);
  restoreLookup = resolveLocalhostNames();
  if (!template) return;
  const { sandbox } = stack;
  const l: Local = { sandbox, vaultUrl: sandbox.vaultUrl.replace('//127.0.0.1:', '//kv.vault.localhost:') };
  env = { ...added(l) };
  for (const [name, value] of Object.entries(template)) {
    if (name in NOT_HONOURED) continue;
    env[name] = SWAPPED[name] ? SWAPPED[name].local(l) : String(value);
  }
  // The audit key lives where the template says: a Key Vault secret of that name, no value in a setting.
  sandbox.vault.setSecret(env.AUDIT_HMAC_SECRET_NAME ?? '', sandbox.auditHmacKey);
  host = await stack.hostWith(env, { nodeArgs: ['--require', join(repoRoot, 'dist', 'src', 'dev', 'localhost-names-preload.js')] });
}, 120_000);

afterAll(async () => {
  restoreLookup?.();
  await rm(snapshotDir, { recursive: true, force: true });
  await stack?.finish();
});

describe('production wiring: the template\'s app settings, endpoints swapped for local ones', () => {
  it('classifies every setting the template writes: as is, swapped, or not honoured with a reason', (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    const names = Object.keys(template);
    for (const name of [...Object.keys(SWAPPED), ...Object.keys(NOT_HONOURED)]) expect(names, `${name} is no longer in the template`).toContain(name);
    for (const [name, value] of Object.entries(template)) {
      if (name in NOT_HONOURED) continue;
      if (SWAPPED[name]) expect(String(value), name).toMatch(SWAPPED[name].template);
      // Anything else must be a literal, used unchanged; a new deployment-time value needs a local stand-in above.
      else expect(String(value), `${name}: known only at deployment; swap it or say why it cannot be honoured`).not.toMatch(/^\[/);
    }
    expect(Object.keys(NOT_HONOURED).sort()).toEqual(names.filter((n) => n.startsWith('AzureWebJobsStorage__') || n.startsWith('APPLICATIONINSIGHTS_')).sort());
  });

  it('hands the host every setting the code reads, and no local switch but trust and the loopback workspace', (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    for (const name of DEPLOYED_SETTINGS) expect(env, name).toHaveProperty([name]);
    expect(LOCAL_ONLY_SETTINGS.filter((name) => name in env).sort()).toEqual([...LOCAL_SWITCHES_USED].sort());
    const expected = [...Object.keys(template).filter((n) => !(n in NOT_HONOURED)), 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', ...LOCAL_SWITCHES_USED];
    expect(Object.keys(env).sort()).toEqual(expected.sort());
    expect(env.AUDIT_TABLE_ENDPOINT).toMatch(/^https:\/\/devstoreaccount1\.table\.localhost:\d+$/);
  });

  it('vends an aad token: Key Vault with challenge verification on, the audit row written with the app identity', async (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    const reply = await stack.vend(host, { workspace: 'analytics-sandbox' }, { headers: { 'x-request-id': 'wiring-aad' } });
    expect(reply.status, reply.text + host.output()).toBe(200);
    const token = String(reply.json.access_token);
    const me = await fetch(`${stack.sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers: reply.json.headers as Record<string, string> });
    expect(me.status).toBe(200);
    const rows = (await stack.auditRows()).filter((r) => r.request_id === 'wiring-aad');
    // The fingerprint proves the key came from the vault secret the template names.
    const fingerprint = createHmac('sha256', Buffer.from(stack.sandbox.auditHmacKey, 'base64')).update(token).digest('hex').slice(0, 16);
    expect(rows.map((r) => [r.outcome, r.status, r.token_fingerprint])).toEqual([['issued', 200, fingerprint]]);
  });

  it('vends oauth and user tokens: the exchange, and on-behalf-of with the identity\'s assertion', async (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    const scoped = await stack.vend(host, { workspace: 'analytics-scoped', mode: 'oauth' });
    expect(scoped.status, scoped.text).toBe(200);
    const userToken = await stack.callerToken({ kind: 'user', audience: stack.sandbox.apps.vendingApp.clientId });
    const user = await stack.vend(host, { workspace: 'analytics-sandbox', mode: 'user' }, { token: userToken });
    expect(user.status, user.text).toBe(200);
  });

  it('got every credential of its own from the managed identity endpoint: vault, storage, token exchange; never a client secret', (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    const { authority, apps } = stack.sandbox;
    const resources = new Set(authority.managedIdentityRequests(apps.vendingApp.clientId));
    // The vault's challenge named https://vault.localhost (verification on), not https://vault.azure.net;
    // api://AzureADTokenExchange is the on-behalf-of client assertion (no secret on the API's registration).
    expect([...resources].sort()).toEqual([LOCAL_VAULT_RESOURCE, 'api://AzureADTokenExchange', 'https://storage.azure.com'].sort());
    // The token endpoint saw the app's client id only as the on-behalf-of client (its assertion the
    // identity's token), never asking for the vault or storage with a secret.
    const clientId = apps.vendingApp.clientId;
    expect(authority.tokenRequests({ clientId })).toBeGreaterThan(0);
    for (const resource of [LOCAL_VAULT_RESOURCE, 'https://storage.azure.com']) expect(authority.tokenRequests({ clientId, scope: `${resource}/.default` }), resource).toBe(0);
  });

  it('creates and revokes a PAT, and the audit table refuses a request without the identity', async (ctx) => {
    if (!template) return ctx.skip('Bicep CLI unavailable');
    const created = await stack.vend(host, { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 });
    expect(created.status, created.text).toBe(200);
    const revoked = await stack.call(host, `/token/analytics-sandbox/${String(created.json.token_id)}`, { method: 'DELETE' });
    expect(revoked.status, revoked.text).toBe(204);
    const rows = await stack.auditRows();
    expect(rows.filter((r) => r.token_id === created.json.token_id).map((r) => r.outcome).sort()).toEqual(['issued', 'revoked']);
    // Azurite over HTTPS with OAuth: the rows above went in with a bearer token; nothing goes in without one.
    const anonymous = await fetch(`${env.AUDIT_TABLE_ENDPOINT}/${env.AUDIT_TABLE_NAME}()`, { headers: { Accept: 'application/json;odata=nometadata' } });
    expect([401, 403]).toContain(anonymous.status);
  });
});
