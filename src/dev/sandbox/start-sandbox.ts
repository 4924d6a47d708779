import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAuditStore } from './audit-store.js';
import type { AuditStore } from './audit-store.js';
import { LocalAuthority } from './authority.js';
import { createLocalCa } from './ca.js';
import type { LocalCa } from './ca.js';
import { VENDING_API_AUDIENCE } from './caller-token.js';
import { buildHostEnv, buildVendingConfig, createApps } from './config.js';
import type { SandboxApps } from './config.js';
import type { Sandbox, SandboxOptions } from './types.js';
import { LocalVault } from './vault.js';
import { AZURE_DATABRICKS_APP_ID, LocalWorkspace } from './workspace.js';

const DEFAULT_TOKEN_LIFETIME_SECONDS = 3599;

/** Closers run last-in first-out, each at most once, even when one of them fails. */
class Cleanup {
  private readonly closers: Array<() => Promise<unknown>> = [];
  private running: Promise<void> | undefined;

  add(closer: () => Promise<unknown>): void {
    this.closers.push(closer);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const closer of this.closers.reverse()) await closer().catch(() => undefined);
    })();
    return this.running;
  }
}

/**
 * The CA and the audit store in parallel (azurite is the slow part); whatever started is cleaned up.
 * Production-style storage needs the CA first: azurite presents its server certificate.
 */
async function startSlowParts(dir: string, quiet: boolean, productionStorage: boolean, cleanup: Cleanup): Promise<[LocalCa, AuditStore]> {
  const caFirst = productionStorage ? await createLocalCa(dir) : undefined;
  const [ca, audit] = await Promise.allSettled([caFirst ?? createLocalCa(dir), startAuditStore(dir, quiet, caFirst)]);
  if (audit.status === 'fulfilled') cleanup.add(() => audit.value.stop());
  if (ca.status === 'rejected') throw ca.reason;
  if (audit.status === 'rejected') throw audit.reason;
  return [ca.value, audit.value];
}

/** Registers every app with the authority, puts the SP secrets in the vault, makes etl-sp a member. */
function enrol(apps: SandboxApps, authority: LocalAuthority, vault: LocalVault, workspace: LocalWorkspace): void {
  const { vendingApp, callerApp, otherCallerApp, servicePrincipals } = apps;
  // The vending API's registration: callers' tokens are issued to it (its id URI), and a federated
  // credential trusting the app's own identity lets it run on-behalf-of without a secret.
  const vendingOid = randomUUID();
  authority.registerClient(vendingApp.clientId, {
    secrets: [vendingApp.secret], displayName: 'dbx-token-vending', objectId: vendingOid,
    identifierUris: [VENDING_API_AUDIENCE], federatedSubjects: [vendingOid],
  });
  authority.registerClient(callerApp.clientId, {
    secrets: [callerApp.secret], roles: callerApp.roles, displayName: 'sandbox-caller',
    // App roles are defined on the vending API, so only its tokens carry them.
    roleResources: [VENDING_API_AUDIENCE, vendingApp.clientId],
  });
  authority.registerClient(otherCallerApp.clientId, { secrets: [otherCallerApp.secret], displayName: 'sandbox-other-caller' });
  for (const [name, sp] of Object.entries(servicePrincipals)) {
    authority.registerClient(sp.clientId, { secrets: [sp.secret], displayName: name });
    vault.setSecret(sp.secretName, sp.secret);
  }
  authority.setDefaultCaller(callerApp.clientId);
  vault.allowReader(vendingApp.clientId);
  workspace.addServicePrincipal(servicePrincipals['etl-sp'].clientId, 'etl-sp');
  workspace.addUser(authority.userPrincipalName, 'Sandbox User');
  // etl-sp's Databricks federation policy: its own Entra ID token for AzureDatabricks may act as it.
  const etl = servicePrincipals['etl-sp'].clientId;
  workspace.setFederationPolicy(etl, { issuer: authority.issuer, audiences: [AZURE_DATABRICKS_APP_ID], subject: authority.objectIdOf(etl) ?? '' });
}

async function startServers(dir: string, options: SandboxOptions, cleanup: Cleanup): Promise<Sandbox> {
  const quiet = options.quiet ?? true;
  const [ca, audit] = await startSlowParts(dir, quiet, options.productionStorage ?? false, cleanup);
  const tls = { key: ca.serverKeyPem, cert: ca.serverCertPem };
  const tenantId = randomUUID();
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;
  const authority = await LocalAuthority.start({ tenantId, tls, tokenLifetimeSeconds, quiet });
  cleanup.add(() => authority.close());
  const vault = await LocalVault.start({ authority, tls, quiet });
  cleanup.add(() => vault.close());
  const workspaceResourceId = `/subscriptions/${randomUUID()}/resourceGroups/rg-sandbox/providers/Microsoft.Databricks/workspaces/analytics-sandbox`;
  const workspace = await LocalWorkspace.start({ authority, resourceId: workspaceResourceId, tls, quiet });
  cleanup.add(() => workspace.close());
  const apps = createApps();
  enrol(apps, authority, vault, workspace);
  const at = { tenantId, vaultUrl: vault.vaultUrl, workspaceUrl: workspace.workspaceUrl, workspaceResourceId };
  const config = buildVendingConfig(apps, at);
  const auditHmacKey = randomBytes(32).toString('base64');
  return {
    ...at, authorityHost: authority.authorityHost, caPem: ca.caPem, caFile: ca.caFile,
    audit: {
      connectionString: audit.connectionString, endpoint: audit.endpoint, tableName: audit.tableName,
      setDown: (down) => audit.setDown(down), setSlow: (ms) => audit.setSlow(ms), storePid: audit.storePid,
      batchTimeline: () => audit.batchTimeline(), resetBatchTimeline: () => audit.resetBatchTimeline(),
    },
    grants: audit.grants,
    apps, config, auditHmacKey, authority, vault, workspace,
    issueCallerToken: authority.issueCallerToken,
    startExtraWorkspace: async (name) => {
      const extra = await LocalWorkspace.start({ authority, tls, quiet, resourceId: workspaceResourceId.replace(/analytics-sandbox$/, name) });
      cleanup.add(() => extra.close());
      return extra;
    },
    hostEnv: () => buildHostEnv({
      config, authorityHost: authority.authorityHost, tenantId, vendingApp: apps.vendingApp, caFile: ca.caFile,
      auditConnectionString: audit.connectionString, auditTableName: audit.tableName, auditHmacKey,
      grantsConnectionString: audit.grants.connectionString, grantsTableName: audit.grants.tableName,
    }),
    stop: () => cleanup.run(),
  };
}

/**
 * Starts the local sandbox: a private CA, a local Entra ID authority, Key Vault and Databricks
 * workspace over HTTPS, and azurite's Table service for the audit — all on 127.0.0.1, ephemeral ports.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'dbx-sandbox-'));
  const cleanup = new Cleanup();
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  try {
    return await startServers(dir, options, cleanup);
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
