import { randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_CALLER_ROLES, VENDING_API_AUDIENCE } from './caller-token.js';

/** The VENDING_CONFIG document (DESIGN §3), as the sandbox writes it. The product validates its own type. */
export interface VendingConfigDocument {
  cloud: 'AzurePublic' | 'AzureUSGovernment' | 'AzureChina';
  tenantId: string;
  callers: { audiences: string[]; allowedTenants: string[] };
  keyVaultUrl: string;
  servicePrincipals: Record<string, { clientId: string; secret?: string; certificate?: string; federated?: boolean; federationAudience?: string }>;
  workspaces: Record<string, { host: string; resourceId: string; servicePrincipal: string; owners?: SandboxPrincipals }>;
  grants: Array<{
    workspace: string;
    callers: { roles: string[]; appIds: string[]; objectIds: string[]; usersViaAppIds?: string[] };
    modes: Array<'aad' | 'pat' | 'oauth' | 'user'>;
    maxLifetimeSeconds: number;
    managementToken: boolean;
    scopes?: string[];
    defaultScopes?: string[];
  }>;
  onBehalfOf?: { clientId: string };
  auditors?: { tenants?: string[]; callers: { roles: string[]; appIds: string[]; objectIds: string[] }; maxSpanDays?: number };
  admins?: SandboxPrincipals;
  apiGrants?: { defaultExpiryDays?: number; maxExpiryDays?: number; refreshSeconds?: number; maxStaleSeconds?: number };
  limits: { perCallerPerMinute: number };
}

export interface SandboxPrincipals {
  roles?: string[];
  appIds?: string[];
  objectIds?: string[];
  tenants?: string[];
}

/** The platform admins' app role in the sandbox (no sandbox caller holds it unless a test asks). */
export const ADMIN_ROLE = 'Vending.Admin';

/** The app role the sandbox's auditors setting names: a caller token with it may read the audit trail. */
export const SANDBOX_AUDITOR_ROLE = 'Vend.Auditor';

export interface SandboxApp {
  readonly clientId: string;
  readonly secret: string;
}

export interface SandboxServicePrincipal {
  readonly clientId: string;
  /** Name of the Key Vault secret holding its client secret. */
  readonly secretName: string;
  /** The client secret put in the vault at start (a test that rotates it holds the new one). */
  readonly secret: string;
}

export interface SandboxApps {
  /** The function app's own identity: reads Key Vault through AZURE_CLIENT_ID/SECRET/TENANT_ID. */
  readonly vendingApp: SandboxApp;
  /** A caller holding the app role the analytics grant names. */
  readonly callerApp: SandboxApp & { readonly roles: readonly string[] };
  /** A caller with no role: granted nothing by role (ops-sandbox grants by app id, and not to it). */
  readonly otherCallerApp: SandboxApp & { readonly roles: readonly string[] };
  /** etl-sp is a workspace member; ops-sp is not and needs the management token. */
  readonly servicePrincipals: { readonly 'etl-sp': SandboxServicePrincipal; readonly 'ops-sp': SandboxServicePrincipal };
  /** Team A's group: owns analytics-sandbox (a user token carrying it in `groups` may grant access). */
  readonly teamAGroupId: string;
}

/** Fresh ids and strong secrets for every sandbox: nothing here is reused between runs. */
export function createApps(): SandboxApps {
  const secret = (): string => randomBytes(32).toString('base64url');
  return {
    vendingApp: { clientId: randomUUID(), secret: secret() },
    callerApp: { clientId: randomUUID(), secret: secret(), roles: [...DEFAULT_CALLER_ROLES] },
    otherCallerApp: { clientId: randomUUID(), secret: secret(), roles: [] },
    servicePrincipals: {
      'etl-sp': { clientId: randomUUID(), secretName: 'etl-sp-secret', secret: secret() },
      'ops-sp': { clientId: randomUUID(), secretName: 'ops-sp-secret', secret: secret() },
    },
    teamAGroupId: randomUUID(),
  };
}

export interface SandboxEndpoints {
  readonly tenantId: string;
  readonly vaultUrl: string;
  readonly workspaceUrl: string;
  readonly workspaceResourceId: string;
}

export function buildVendingConfig(apps: SandboxApps, at: SandboxEndpoints): VendingConfigDocument {
  const { 'etl-sp': etl, 'ops-sp': ops } = apps.servicePrincipals;
  const workspace = (servicePrincipal: string) => ({ host: at.workspaceUrl, resourceId: at.workspaceResourceId, servicePrincipal });
  return {
    cloud: 'AzurePublic',
    tenantId: at.tenantId,
    callers: { audiences: [VENDING_API_AUDIENCE, apps.vendingApp.clientId], allowedTenants: [at.tenantId] },
    keyVaultUrl: at.vaultUrl,
    servicePrincipals: {
      'etl-sp': { clientId: etl.clientId, secret: etl.secretName },
      'ops-sp': { clientId: ops.clientId, secret: ops.secretName },
    },
    // analytics-scoped: the same workspace and SP, granted as scoped tokens only (oauth, scoped pat).
    workspaces: {
      'analytics-sandbox': { ...workspace('etl-sp'), owners: { objectIds: [apps.teamAGroupId] } },
      'ops-sandbox': workspace('ops-sp'),
      'analytics-scoped': workspace('etl-sp'),
    },
    admins: { roles: [ADMIN_ROLE] },
    // Short refresh so a change shows on every instance within ~2 s in demos and tests.
    apiGrants: { refreshSeconds: 2 },
    grants: [
      {
        workspace: 'analytics-sandbox', callers: { roles: [...DEFAULT_CALLER_ROLES], appIds: [], objectIds: [] },
        modes: ['aad', 'pat', 'user'], maxLifetimeSeconds: 3600, managementToken: false,
      },
      {
        workspace: 'analytics-scoped', callers: { roles: [...DEFAULT_CALLER_ROLES], appIds: [], objectIds: [] },
        modes: ['oauth', 'pat'], maxLifetimeSeconds: 3600, managementToken: false,
        scopes: ['clusters:read', 'sql'], defaultScopes: ['clusters:read'],
      },
      {
        workspace: 'ops-sandbox', callers: { roles: [], appIds: [apps.callerApp.clientId], objectIds: [] },
        modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: true,
      },
    ],
    limits: { perCallerPerMinute: 600 },
    auditors: { callers: { roles: [SANDBOX_AUDITOR_ROLE], appIds: [], objectIds: [] }, maxSpanDays: 31 },
    // The vending API's own registration: its federated credential trusts the app identity (mode user).
    onBehalfOf: { clientId: apps.vendingApp.clientId },
  };
}

export interface HostEnvInput {
  readonly config: VendingConfigDocument;
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly vendingApp: SandboxApp;
  readonly caFile: string;
  readonly auditConnectionString: string;
  readonly auditTableName: string;
  readonly auditHmacKey: string;
  readonly grantsConnectionString: string;
  readonly grantsTableName: string;
}

/** The app settings of a function host running against this sandbox (local switches included). */
export function buildHostEnv(input: HostEnvInput): Record<string, string> {
  return {
    VENDING_CONFIG: JSON.stringify(input.config),
    AZURE_AUTHORITY_HOST: input.authorityHost,
    AZURE_TENANT_ID: input.tenantId,
    AZURE_CLIENT_ID: input.vendingApp.clientId,
    AZURE_CLIENT_SECRET: input.vendingApp.secret,
    NODE_EXTRA_CA_CERTS: input.caFile,
    KEYVAULT_CHALLENGE_VERIFICATION: 'off',
    VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on',
    AUDIT_CONNECTION_STRING: input.auditConnectionString,
    AUDIT_TABLE_NAME: input.auditTableName,
    AUDIT_HMAC_KEY: input.auditHmacKey,
    GRANTS_CONNECTION_STRING: input.grantsConnectionString,
    GRANTS_TABLE_NAME: input.grantsTableName,
  };
}
