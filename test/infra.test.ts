// Infra tests: the real Bicep CLI compiles and lints infra/main.bicep, then the compiled ARM JSON and
// an offline deployment snapshot (every nested module flattened, names and scopes evaluated) are
// held against the contract: hardening flags, least-privilege role assignments, Entra ID in front,
// and the very settings the code reads (src/core/config/settings.ts).
//
// The CLI comes from infra/scripts/bicep.sh (PATH, else a pinned NuGet package restored once into
// .tools/). With CI=true a missing CLI fails the run; elsewhere the suite is skipped, loudly.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { DEPLOYED_SETTINGS, LOCAL_ONLY_SETTINGS } from '../src/core/config/settings';
import { API_CLIENT_ID, OPERATOR_ID, SNAPSHOT_SCOPE, appSettingsOf, bicepVersion, infraDir, repoRoot, runBicep, takeSnapshot } from './support/bicep';
import type { ArmResource, CliRun, Snapshot } from './support/bicep';

const bicepConfig = join(infraDir, 'bicepconfig.json');

/** Built-in role definition ids (the same in every tenant and cloud). */
const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  /** Must not be granted on the audit table: it may update and delete entities. */
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
  keyVaultCertificatesOfficer: 'a4417e6f-fecd-4de8-b567-7b0420556985',
} as const;

/**
 * App settings a Flex Consumption app refuses at deploy time ("The following app setting
 * (Site.SiteConfig.AppSettings.X) for Flex Consumption sites is invalid"; Azure Functions app
 * settings reference, "Flex Consumption plan deprecations"): the runtime lives in functionAppConfig.
 * AzureWebJobsStorage (a connection string) is refused by our own rule: identity only.
 */
const FLEX_FORBIDDEN_SETTINGS = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'AzureWebJobsStorage',
];

/**
 * siteConfig properties a Flex Consumption site refuses at deploy time (ARM error 51021, "The
 * following site configuration property (Site.SiteConfig.X) for Flex Consumption sites is
 * invalid"): runtime and scale live in functionAppConfig; FTP is closed by the publishing policies.
 */
const FLEX_FORBIDDEN_SITE_CONFIG = [
  'ftpsState',
  'alwaysOn',
  'use32BitWorkerProcess',
  'netFrameworkVersion',
  'linuxFxVersion',
  'windowsFxVersion',
  'functionsRuntimeScaleMonitoringEnabled',
  'preWarmedInstanceCount',
  'functionAppScaleLimit',
  'minimumElasticInstanceCount',
  'javaVersion',
  'nodeVersion',
  'phpVersion',
  'pythonVersion',
  'powerShellVersion',
];

/**
 * The custom role's data actions (Azure permissions reference, Microsoft.Storage; Table service
 * REST authorization): Insert Entity needs entities/add/action (or entities/write, which also
 * allows Insert Or Replace/Merge); Query Entities needs entities/read.
 */
const AUDIT_APPENDER_DATA_ACTIONS = [
  'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read',
  'Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action',
];

/**
 * The grants editor's data actions (Azure permissions reference, Microsoft.Storage:
 * entities/add/action "Insert table entities", entities/update/action "Merge or update table
 * entities"): add, update with the etag read, and read. Never entities/delete or entities/write.
 */
const GRANTS_EDITOR_DATA_ACTIONS = [...AUDIT_APPENDER_DATA_ACTIONS, 'Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action'];

interface ArmTemplate {
  languageVersion?: string;
  parameters?: Record<string, { type: string; defaultValue?: unknown }>;
  resources: ArmResource[] | Record<string, ArmResource>;
  outputs?: Record<string, { type: string; value: unknown }>;
}

interface Compiled {
  template: ArmTemplate;
  /** Every resource of the template and of each nested (module) deployment, in order. */
  resources: ArmResource[];
  /** The same, keyed by symbolic name (languageVersion 2.0), module name first: `function-app/site::auth`. */
  symbolic: Map<string, ArmResource & { dependsOn?: string[] }>;
  buildOutput: string;
  lint: CliRun;
  /** Default parameters: no secret names, so the vault-wide Secrets User assignment. */
  snapshot: Snapshot;
  /** keyVaultSecretNames given: one Secrets User assignment per named secret. */
  perSecretSnapshot: Snapshot;
  /** A custom identifier URI and an existing vault's name given (a re-provision by azd). */
  customSnapshot: Snapshot;
  cliVersion: string;
}

let compiled: Compiled | undefined;
let workDir: string | undefined;

/** Diagnostic lines as the CLI prints them: `file(line,col) : Warning rule: message`. */
function diagnosticsIn(output: string): string[] {
  return output.split('\n').filter((line) => /\) : (Error|Warning|Info) /.test(line));
}

function listOf(resources: ArmTemplate['resources']): ArmResource[] {
  return Array.isArray(resources) ? resources : Object.values(resources);
}

/** Modules compile to nested deployments: collect their templates' deployed resources too. */
function collectResources(template: ArmTemplate): ArmResource[] {
  const all: ArmResource[] = [];
  for (const resource of listOf(template.resources)) {
    if (resource.existing === true) continue;
    all.push(resource);
    const nested = resource.properties?.template as ArmTemplate | undefined;
    if (resource.type === 'Microsoft.Resources/deployments' && nested) {
      all.push(...collectResources(nested));
    }
  }
  return all;
}

function symbolicResources(template: ArmTemplate, prefix = '', into = new Map<string, ArmResource & { dependsOn?: string[] }>()) {
  const resources = template.resources;
  if (Array.isArray(resources)) return into;
  for (const [key, resource] of Object.entries(resources)) {
    if (resource.existing === true) continue;
    into.set(`${prefix}${key}`, resource);
    const nested = resource.properties?.template as ArmTemplate | undefined;
    if (resource.type === 'Microsoft.Resources/deployments' && nested) symbolicResources(nested, `${resource.name}/`, into);
  }
  return into;
}

beforeAll(async () => {
  const cliVersion = await bicepVersion();
  if (!cliVersion) return;

  workDir = await mkdtemp(join(tmpdir(), 'dbx-vend-infra-'));
  const dir = workDir;
  const outFile = join(dir, 'main.json');
  // Build and lint are independent; the snapshots only read the sources.
  const [build, lint, snapshot, perSecretSnapshot, customSnapshot] = await Promise.all([
    runBicep(['build', join(infraDir, 'main.bicep'), '--outfile', outFile]),
    runBicep(['lint', '--pattern', 'infra/**/*.bicep', '--config', bicepConfig]),
    takeSnapshot(dir, 'vault-scope', ''),
    takeSnapshot(dir, 'per-secret', `param keyVaultSecretNames = ['etl-sp-secret', 'ml-sp-cert']`),
    takeSnapshot(dir, 'custom', `param vendingApiAudiences = ['api://${SNAPSHOT_SCOPE.tenantId}/dbx-token-vending']\nparam keyVaultName = 'kv-vend-kept'\nparam alertEmail = 'ops@example.com'`),
  ]);
  if (build.code !== 0) {
    throw new Error(`bicep build failed (${build.code}):\n${build.stdout}${build.stderr}`);
  }
  const template = JSON.parse(await readFile(outFile, 'utf8')) as ArmTemplate;
  compiled = {
    template,
    resources: collectResources(template),
    symbolic: symbolicResources(template),
    buildOutput: build.stdout + build.stderr,
    lint,
    snapshot,
    perSecretSnapshot,
    customSnapshot,
    cliVersion,
  };
}, 300_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The compiled infra, or a skip when the CLI is missing outside CI (beforeAll said so). */
function infra(ctx: TestContext): Compiled {
  if (!compiled) ctx.skip('Bicep CLI unavailable');
  return compiled;
}

function only(resources: ArmResource[], type: string, name?: RegExp): ArmResource {
  const found = resources.filter((r) => r.type === type && (!name || name.test(r.name)));
  expect(found, `${type} ${name?.source ?? ''}`).toHaveLength(1);
  return found[0];
}

/** The custom role whose roleName matches (the definitions' names are GUIDs). */
function customRole(resources: ArmResource[], roleName: RegExp): ArmResource {
  const found = resources.filter((r) => r.type === 'Microsoft.Authorization/roleDefinitions' && roleName.test(String(r.properties?.roleName)));
  expect(found, roleName.source).toHaveLength(1);
  return found[0];
}

function props(resource: ArmResource): Record<string, unknown> {
  expect(resource.properties, `${resource.type} properties`).toBeTypeOf('object');
  return resource.properties ?? {};
}

function roleGuid(assignment: ArmResource): string {
  const id = String(props(assignment).roleDefinitionId);
  return id.slice(id.lastIndexOf('/') + 1);
}

/** The scope of a role assignment in the snapshot, read off its resource id. */
function scopeOf(assignment: ArmResource): string {
  const id = assignment.id ?? '';
  const runtime = /^\[extensionResourceId\('([^']+)', 'Microsoft\.Authorization\/roleAssignments'/.exec(id);
  if (runtime?.[1]) return runtime[1];
  const marker = '/providers/Microsoft.Authorization/roleAssignments/';
  expect(id).toContain(marker);
  return id.slice(0, id.indexOf(marker));
}

function appRoleAssignments(snapshot: Snapshot): { role: string; scope: string }[] {
  return snapshot.predictedResources
    .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments')
    .filter((r) => props(r).principalId !== OPERATOR_ID)
    .map((r) => ({ role: roleGuid(r), scope: scopeOf(r) }));
}

const rgPrefix = `/subscriptions/${SNAPSHOT_SCOPE.subscriptionId}/resourceGroups/${SNAPSHOT_SCOPE.resourceGroup}/providers`;

describe('infra: Bicep CLI', () => {
  it('compiles main.bicep and its modules without a diagnostic', (ctx) => {
    const { buildOutput, cliVersion } = infra(ctx);
    expect(cliVersion).toMatch(/^Bicep CLI version \d+\.\d+\.\d+/);
    expect(diagnosticsIn(buildOutput)).toEqual([]);
  });

  it('lints clean with every analyzer rule in bicepconfig.json at level error', async (ctx) => {
    const { lint } = infra(ctx);
    expect(diagnosticsIn(lint.stdout + lint.stderr)).toEqual([]);
    expect(lint.code).toBe(0);

    const config = JSON.parse(await readFile(bicepConfig, 'utf8')) as {
      analyzers: { core: { enabled: boolean; rules: Record<string, { level: string }> } };
    };
    const rules = config.analyzers.core.rules;
    expect(config.analyzers.core.enabled).toBe(true);
    for (const rule of [
      'no-unused-params',
      'no-unused-vars',
      'secure-secrets-in-params',
      'outputs-should-not-contain-secrets',
      'use-secure-value-for-secure-inputs',
      'no-hardcoded-env-urls',
      'prefer-interpolation',
      'use-resource-id-functions',
      'use-stable-resource-identifiers',
      'what-if-short-circuiting',
    ]) {
      expect(rules[rule]?.level, rule).toBe('error');
    }
    expect(Object.entries(rules).filter(([, rule]) => rule.level !== 'error')).toEqual([]);
  });

  it('really applies that config: an unused parameter fails the lint', async (ctx) => {
    infra(ctx);
    const canary = join(workDir ?? tmpdir(), 'canary.bicep');
    await writeFile(canary, "param unused string\noutput URL string = 'https://login.microsoftonline.com/'\n");
    const run = await runBicep(['lint', canary, '--config', bicepConfig]);
    const output = run.stdout + run.stderr;
    expect(run.code).not.toBe(0);
    expect(output).toMatch(/Error no-unused-params/);
    expect(output).toMatch(/Error no-hardcoded-env-urls/);
  });

  it('uses plain local resources: no registry modules, no extensions', async (ctx) => {
    infra(ctx);
    const files = [join(infraDir, 'main.bicep')];
    for (const name of await readdir(join(infraDir, 'modules'))) {
      if (name.endsWith('.bicep')) files.push(join(infraDir, 'modules', name));
    }
    for (const file of files) {
      const source = await readFile(file, 'utf8');
      expect(source, file).not.toMatch(/\b(br|ts)[:/]/);
      expect(source, file).not.toMatch(/^\s*(extension|provider)\s/m);
      expect(source, file).not.toMatch(/^\s*module\s+\w+\s+'(?!modules\/)/m);
    }
  });
});

describe('infra: resources and their hardening (compiled ARM JSON)', () => {
  it('compiles modules to nested deployments whose templates hold the resources', (ctx) => {
    const { template, resources } = infra(ctx);
    const modules = listOf(template.resources).filter((r) => r.type === 'Microsoft.Resources/deployments');
    expect(modules.map((m) => m.name).sort()).toEqual(
      ['alerts', 'audit-storage', 'function-app', 'host-storage', 'identity', 'key-vault', 'monitoring', 'rbac'].sort(),
    );
    expect(resources.length).toBeGreaterThan(modules.length + 10);
  });

  it('creates a user-assigned identity that the site runs as', (ctx) => {
    const { resources } = infra(ctx);
    only(resources, 'Microsoft.ManagedIdentity/userAssignedIdentities');
    const site = only(resources, 'Microsoft.Web/sites');
    expect(site.identity?.type).toBe('UserAssigned');
    expect(props(site).keyVaultReferenceIdentity).toBe("[parameters('identityId')]");
  });

  it('runs the app on Flex Consumption (FC1), Node.js 22, HTTPS and TLS 1.2 only, no FTP', (ctx) => {
    const { resources } = infra(ctx);
    const plan = only(resources, 'Microsoft.Web/serverfarms');
    expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(props(plan).reserved).toBe(true);

    const site = only(resources, 'Microsoft.Web/sites');
    expect(site.kind).toBe('functionapp,linux');
    const p = props(site);
    expect(p.httpsOnly).toBe(true);
    expect(p.siteConfig).toEqual({ minTlsVersion: '1.2', scmMinTlsVersion: '1.2', http20Enabled: true });
    expect(p.functionAppConfig).toMatchObject({
      runtime: { name: 'node', version: '22' },
      scaleAndConcurrency: {
        instanceMemoryMB: "[parameters('instanceMemoryMB')]",
        maximumInstanceCount: "[parameters('maximumInstanceCount')]",
      },
      deployment: {
        storage: {
          type: 'blobContainer',
          authentication: {
            type: 'UserAssignedIdentity',
            userAssignedIdentityResourceId: "[parameters('identityId')]",
          },
        },
      },
    });

    for (const policy of ['ftp', 'scm']) {
      const publishing = only(resources, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies', new RegExp(`'${policy}'|/${policy}`));
      expect(props(publishing).allow, policy).toBe(false);
    }
  });

  it('carries no siteConfig property or app setting that Flex Consumption refuses at deploy time', (ctx) => {
    const { template, snapshot } = infra(ctx);
    // Anywhere in the compiled template, module templates included: not even a conditional one.
    const text = JSON.stringify(template);
    for (const name of FLEX_FORBIDDEN_SITE_CONFIG) expect(text, name).not.toMatch(new RegExp(`"${name}"\\s*:`, 'i'));
    for (const name of FLEX_FORBIDDEN_SETTINGS) expect(text, name).not.toMatch(new RegExp(`"${name}"\\s*:`));
    const site = props(only(snapshot.predictedResources, 'Microsoft.Web/sites'));
    for (const name of FLEX_FORBIDDEN_SITE_CONFIG) expect(site.siteConfig, name).not.toHaveProperty([name]);
  });

  it('writes the site configuration one child at a time: appsettings, authsettingsV2, ftp, scm', (ctx) => {
    const { symbolic } = infra(ctx);
    const child = (key: string) => {
      const found = symbolic.get(`function-app/site::${key}`);
      expect(found, key).toBeDefined();
      return found ?? { type: '', name: '' };
    };
    expect(child('settings').name).toContain("'appsettings'");
    expect(child('auth').name).toContain("'authsettingsV2'");
    expect(child('auth').dependsOn).toContain('site::settings');
    expect(child('ftpPublishing').dependsOn).toContain('site::auth');
    expect(child('scmPublishing').dependsOn).toContain('site::ftpPublishing');
    // Every write to the site's configuration is in that one chain: none left to run in parallel.
    const configChildren = [...symbolic.entries()].filter(([, r]) => /^Microsoft\.Web\/sites\/(config|basicPublishingCredentialsPolicies)$/.test(r.type));
    expect(configChildren.map(([key]) => key).sort()).toEqual(
      ['function-app/site::auth', 'function-app/site::ftpPublishing', 'function-app/site::scmPublishing', 'function-app/site::settings'],
    );
  });

  it('asks for no extension bundle: the HTTP-only app needs none, and a host that cannot fetch one does not start', async (ctx) => {
    infra(ctx);
    const host = JSON.parse(await readFile(join(repoRoot, 'host.json'), 'utf8')) as Record<string, unknown>;
    expect(host.version).toBe('2.0');
    expect(host).not.toHaveProperty('extensionBundle');
  });

  it('makes instance memory and maximum instance count parameters', (ctx) => {
    const { template } = infra(ctx);
    expect(template.parameters?.instanceMemoryMB?.defaultValue).toBe(2048);
    expect(template.parameters?.maximumInstanceCount?.defaultValue).toBeTypeOf('number');
  });

  it('keeps host storage and the audit table in two accounts, both locked to Entra ID, TLS 1.2 and private blobs', (ctx) => {
    const { snapshot } = infra(ctx);
    const accounts = snapshot.predictedResources.filter((r) => r.type === 'Microsoft.Storage/storageAccounts');
    expect(accounts.map((a) => a.name).sort()).toEqual([expect.stringMatching(/^staudit[a-z0-9]+$/), expect.stringMatching(/^sthost[a-z0-9]+$/)]);
    for (const account of accounts) {
      expect(props(account), account.name).toMatchObject({
        allowSharedKeyAccess: false,
        minimumTlsVersion: 'TLS1_2',
        allowBlobPublicAccess: false,
        supportsHttpsTrafficOnly: true,
        defaultToOAuthAuthentication: true,
      });
    }
    const [audit, host] = [...accounts].sort((a, b) => a.name.localeCompare(b.name));
    const container = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(props(container).publicAccess).toBe('None');
    expect(container.id?.startsWith(`${host.id}/`)).toBe(true);
    const table = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts/tableServices/tables', /vendingaudit$/);
    expect(table.id).toBe(`${audit.id}/tableServices/default/tables/vendingaudit`);
    const grants = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts/tableServices/tables', /vendinggrants$/);
    expect(grants.id).toBe(`${audit.id}/tableServices/default/tables/vendinggrants`);
    // The audit account holds the audit and grants tables and nothing else.
    const inAudit = snapshot.predictedResources.filter((r) => r.id?.startsWith(`${audit.id}/`) && !r.type.startsWith('Microsoft.Authorization/'));
    expect(inAudit.map((r) => r.type).sort()).toEqual([
      'Microsoft.Storage/storageAccounts/tableServices',
      'Microsoft.Storage/storageAccounts/tableServices/tables',
      'Microsoft.Storage/storageAccounts/tableServices/tables',
    ]);
  });

  it('defines the audit role: add and read table entities only, assignable in this resource group', (ctx) => {
    const { snapshot } = infra(ctx);
    const role = customRole(snapshot.predictedResources, /audit appender/);
    expect(props(role)).toMatchObject({ type: 'CustomRole', assignableScopes: [`/subscriptions/${SNAPSHOT_SCOPE.subscriptionId}/resourceGroups/${SNAPSHOT_SCOPE.resourceGroup}`] });
    expect(String(props(role).roleName)).toMatch(/^dbx-token-vending audit appender \([a-z0-9]+\)$/);
    expect(props(role).permissions).toEqual([{ actions: [], notActions: [], dataActions: AUDIT_APPENDER_DATA_ACTIONS, notDataActions: [] }]);
    const text = JSON.stringify(props(role).permissions);
    expect(text).not.toMatch(/entities\/(write|delete|update\/action)|tables\/(write|delete)|\*/);
  });

  it('defines the grants role: add, update and read table entities, never delete', (ctx) => {
    const { snapshot } = infra(ctx);
    const role = customRole(snapshot.predictedResources, /grants editor/);
    expect(props(role)).toMatchObject({ type: 'CustomRole', assignableScopes: [`/subscriptions/${SNAPSHOT_SCOPE.subscriptionId}/resourceGroups/${SNAPSHOT_SCOPE.resourceGroup}`] });
    expect(String(props(role).roleName)).toMatch(/^dbx-token-vending grants editor \([a-z0-9]+\)$/);
    expect(props(role).permissions).toEqual([{ actions: [], notActions: [], dataActions: GRANTS_EDITOR_DATA_ACTIONS, notDataActions: [] }]);
    expect(JSON.stringify(props(role).permissions)).not.toMatch(/entities\/(write|delete)|tables\/(write|delete)|\*/);
  });

  it('keeps the vault in RBAC mode with soft delete and purge protection', (ctx) => {
    const { resources } = infra(ctx);
    const vault = props(only(resources, 'Microsoft.KeyVault/vaults'));
    expect(vault).toMatchObject({ enableRbacAuthorization: true, enableSoftDelete: true, enablePurgeProtection: true });
    expect(vault.accessPolicies).toBeUndefined();
    expect(vault.createMode).toBeUndefined();
  });

  it('names a new vault per provision unless azd hands back the existing one (re-provision after azd down)', (ctx) => {
    const { template, snapshot, customSnapshot } = infra(ctx);
    // A soft-deleted vault keeps its name for the retention period: a new provision must not reuse it.
    expect(template.parameters?.provisionedAt?.defaultValue).toBe('[utcNow()]');
    expect(template.parameters?.keyVaultName?.defaultValue).toBe('');
    expect(only(snapshot.predictedResources, 'Microsoft.KeyVault/vaults').name).toMatch(/^kv-vend-[a-z0-9]{13}$/);
    // azd keeps AZURE_KEY_VAULT_NAME (an output) in the environment and passes it back; `azd down`
    // removes every output from it, so the next `azd up` names a new vault.
    expect(only(customSnapshot.predictedResources, 'Microsoft.KeyVault/vaults').name).toBe('kv-vend-kept');
    expect(template.outputs).toHaveProperty(['AZURE_KEY_VAULT_NAME']);
  });

  it('sends telemetry to a workspace-based component that accepts Entra ID senders only', (ctx) => {
    const { resources } = infra(ctx);
    only(resources, 'Microsoft.OperationalInsights/workspaces');
    const component = props(only(resources, 'Microsoft.Insights/components'));
    expect(component.DisableLocalAuth).toBe(true);
    expect(component.WorkspaceResourceId).toBeTruthy();
  });

  it('names every role assignment guid(scope, principal, role) for a service principal', (ctx) => {
    const { resources } = infra(ctx);
    const assignments = resources.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');
    expect(assignments.length).toBeGreaterThanOrEqual(7);
    for (const assignment of assignments) {
      expect(assignment.name).toMatch(/^\[guid\(/);
      expect(String(props(assignment).roleDefinitionId)).toMatch(/^\[subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', /);
    }
    const appAssignments = assignments.filter((a) => props(a).principalId === "[parameters('principalId')]");
    expect(appAssignments).toHaveLength(6);
    for (const assignment of appAssignments) expect(props(assignment).principalType).toBe('ServicePrincipal');
  });

  it('puts no account key or connection-string secret anywhere', (ctx) => {
    const { template } = infra(ctx);
    const text = JSON.stringify(template);
    expect(text).not.toMatch(/DefaultEndpointsProtocol|AccountKey=|listKeys|listConnectionStrings|InstrumentationKey=/);
  });
});

describe('infra: role assignments and scopes (deployment snapshot)', () => {
  it('gives the app identity exactly its five roles, each on the narrowest scope', (ctx) => {
    const { snapshot } = infra(ctx);
    const storage = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts', /^sthost/);
    const auditAccount = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts', /^staudit/);
    const auditRole = customRole(snapshot.predictedResources, /audit appender/);
    const grantsRole = customRole(snapshot.predictedResources, /grants editor/);
    const table = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts/tableServices/tables', /vendingaudit$/);
    const grantsTable = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts/tableServices/tables', /vendinggrants$/);
    const vault = only(snapshot.predictedResources, 'Microsoft.KeyVault/vaults');
    const component = only(snapshot.predictedResources, 'Microsoft.Insights/components');
    const id = (r: ArmResource): string => r.id ?? '';

    expect(id(table)).toBe(`${id(auditAccount)}/tableServices/default/tables/vendingaudit`);
    expect(appRoleAssignments(snapshot)).toEqual(
      expect.arrayContaining([
        { role: ROLE.storageBlobDataOwner, scope: id(storage) },
        { role: auditRole.name, scope: id(table) },
        { role: grantsRole.name, scope: id(grantsTable) },
        { role: ROLE.keyVaultSecretsUser, scope: id(vault) },
        { role: ROLE.monitoringMetricsPublisher, scope: id(component) },
      ]),
    );
    expect(appRoleAssignments(snapshot)).toHaveLength(5);
    // No role that may update or delete audit rows, on the table or above it.
    expect(appRoleAssignments(snapshot).map((a) => a.role)).not.toContain(ROLE.storageTableDataContributor);
    for (const { scope } of appRoleAssignments(snapshot)) expect(id(auditAccount).startsWith(scope)).toBe(false);
    for (const { scope } of appRoleAssignments(snapshot)) expect(scope.startsWith(rgPrefix)).toBe(true);
  });

  it('scopes Key Vault Secrets User to each named secret (and the HMAC key), not the vault', (ctx) => {
    const { perSecretSnapshot } = infra(ctx);
    const vault = only(perSecretSnapshot.predictedResources, 'Microsoft.KeyVault/vaults').id ?? '';
    const secretScopes = appRoleAssignments(perSecretSnapshot)
      .filter((a) => a.role === ROLE.keyVaultSecretsUser)
      .map((a) => a.scope)
      .sort();
    expect(secretScopes).toEqual(
      ['audit-hmac-key', 'etl-sp-secret', 'ml-sp-cert'].map((name) => `${vault}/secrets/${name}`),
    );
  });

  it('lets only the named operator load credentials into the vault', (ctx) => {
    const { snapshot } = infra(ctx);
    const vault = only(snapshot.predictedResources, 'Microsoft.KeyVault/vaults').id;
    const operator = snapshot.predictedResources.filter(
      (r) => r.type === 'Microsoft.Authorization/roleAssignments' && props(r).principalId === OPERATOR_ID,
    );
    expect(operator.map((r) => ({ role: roleGuid(r), scope: scopeOf(r), type: props(r).principalType }))).toEqual([
      { role: ROLE.keyVaultSecretsOfficer, scope: vault, type: 'User' },
      { role: ROLE.keyVaultCertificatesOfficer, scope: vault, type: 'User' },
    ]);
  });

  it('reports no snapshot diagnostics', (ctx) => {
    const { snapshot, perSecretSnapshot, customSnapshot } = infra(ctx);
    expect(snapshot.diagnostics).toEqual([]);
    expect(perSecretSnapshot.diagnostics).toEqual([]);
    expect(customSnapshot.diagnostics).toEqual([]);
  });
});

describe('infra: Entra ID in front of the app (App Service authentication)', () => {
  it('answers anonymous calls with 401, except the health probe', (ctx) => {
    const { snapshot } = infra(ctx);
    const auth = props(only(snapshot.predictedResources, 'Microsoft.Web/sites/config', /\/authsettingsV2$/));
    expect(auth.platform).toEqual({ enabled: true });
    expect(auth.globalValidation).toEqual({
      requireAuthentication: true,
      unauthenticatedClientAction: 'Return401',
      excludedPaths: ['/api/health'],
    });
    expect(auth.identityProviders).toMatchObject({
      azureActiveDirectory: {
        enabled: true,
        registration: { clientId: API_CLIENT_ID },
        validation: { allowedAudiences: [`api://${API_CLIENT_ID}`, API_CLIENT_ID] },
      },
    });
  });

  it('defaults the identifier URI to api://<appId> (Entra\'s restrictions accept it) and keeps a custom one possible', (ctx) => {
    const { template, customSnapshot } = infra(ctx);
    expect(template.parameters?.vendingApiAudiences?.defaultValue).toEqual([]);
    expect(JSON.stringify(template)).not.toContain('api://dbx-token-vending');
    const auth = props(only(customSnapshot.predictedResources, 'Microsoft.Web/sites/config', /\/authsettingsV2$/));
    expect(auth.identityProviders).toMatchObject({
      azureActiveDirectory: { validation: { allowedAudiences: [`api://${SNAPSHOT_SCOPE.tenantId}/dbx-token-vending`, API_CLIENT_ID] } },
    });
  });

  it('trusts the v2 issuer of the callers\' tenant, built from the cloud\'s login endpoint', (ctx) => {
    const { snapshot } = infra(ctx);
    const auth = props(only(snapshot.predictedResources, 'Microsoft.Web/sites/config', /\/authsettingsV2$/));
    const registration = (auth.identityProviders as { azureActiveDirectory: { registration: { openIdIssuer: string } } })
      .azureActiveDirectory.registration;
    expect(registration.openIdIssuer).toBe(
      `[format('{0}{1}/v2.0', environment().authentication.loginEndpoint, '${SNAPSHOT_SCOPE.tenantId}')]`,
    );
  });
});

describe('infra: app settings are exactly what the code reads', () => {
  function appSettings(snapshot: Snapshot): Record<string, unknown> {
    return appSettingsOf(snapshot);
  }

  it('sets every deployed setting and no local-only one', (ctx) => {
    const { snapshot } = infra(ctx);
    const settings = appSettings(snapshot);
    expect(DEPLOYED_SETTINGS.length).toBeGreaterThan(0);
    for (const name of DEPLOYED_SETTINGS) expect(settings, name).toHaveProperty([name]);
    for (const name of LOCAL_ONLY_SETTINGS) expect(settings, name).not.toHaveProperty([name]);
    for (const name of FLEX_FORBIDDEN_SETTINGS) expect(settings, name).not.toHaveProperty([name]);
  });

  it('passes the code no setting beyond DEPLOYED_SETTINGS (compiled module parameter)', (ctx) => {
    const { template } = infra(ctx);
    const functionApp = listOf(template.resources).find((r) => r.name === 'function-app');
    const params = functionApp?.properties?.parameters as Record<string, { value: unknown }> | undefined;
    const vendingSettings = params?.vendingSettings?.value as Record<string, unknown> | undefined;
    expect(Object.keys(vendingSettings ?? {}).sort()).toEqual([...DEPLOYED_SETTINGS].sort());
  });

  it('runs host storage and telemetry over the managed identity', (ctx) => {
    const { snapshot } = infra(ctx);
    const settings = appSettings(snapshot);
    const storage = only(snapshot.predictedResources, 'Microsoft.Storage/storageAccounts', /^sthost/);
    const clientId = settings.AZURE_CLIENT_ID;
    expect(String(clientId)).toMatch(/userAssignedIdentities\/id-vend-[a-z0-9]+', '[\d-]+'\)\.clientId\]$/);
    expect(settings).toMatchObject({
      AzureWebJobsStorage__accountName: storage.name,
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: clientId,
    });
    expect(String(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toMatch(
      /^\[format\('ClientId=\{0\};Authorization=AAD', reference\(.*userAssignedIdentities.*\)\.clientId\)\]$/,
    );
  });

  it('names the audit key\'s secret for the app to read itself, never a Key Vault reference', (ctx) => {
    const { snapshot, template } = infra(ctx);
    const settings = appSettings(snapshot);
    expect(settings.AUDIT_HMAC_SECRET_NAME).toBe('audit-hmac-key');
    expect(settings).not.toHaveProperty(['AUDIT_HMAC_KEY']);
    expect(JSON.stringify(template)).not.toContain('@Microsoft.KeyVault(');
    // The site still resolves as its user-assigned identity, should an operator add a reference.
    const site = only(snapshot.predictedResources, 'Microsoft.Web/sites');
    const identity = only(snapshot.predictedResources, 'Microsoft.ManagedIdentity/userAssignedIdentities');
    expect(props(site).keyVaultReferenceIdentity).toBe(identity.id);
  });

  it('derives authority, management scope and resource ids per cloud', (ctx) => {
    const { snapshot } = infra(ctx);
    const settings = appSettings(snapshot);
    expect(settings.DATABRICKS_RESOURCE_ID).toBe('2ff814a6-3304-4ab8-85cb-cd0e6f879c1d');
    // audiences[0] is "https://management.core.windows.net/" in the public cloud: the scope comes
    // out as "https://management.core.windows.net//.default", as DESIGN.md has it.
    expect(settings.AZURE_MANAGEMENT_SCOPE).toBe("[format('{0}/.default', environment().authentication.audiences[0])]");
    expect(String(settings.AZURE_AUTHORITY_HOST)).toContain('environment().authentication.loginEndpoint');
    expect(String(settings.AUDIT_TABLE_ENDPOINT)).toMatch(/\.primaryEndpoints\.table\]$/);
    expect(settings.AUDIT_TABLE_NAME).toBe('vendingaudit');
    expect(String(settings.VENDING_CONFIG)).toMatch(/^\[string\(createObject\('cloud', 'AzurePublic'.*'keyVaultUrl'/);
  });

  it('tags the site for azd as the "api" service', (ctx) => {
    const { snapshot } = infra(ctx);
    const site = only(snapshot.predictedResources, 'Microsoft.Web/sites');
    expect(site.tags).toMatchObject({ 'azd-service-name': 'api', 'azd-env-name': 'test' });
  });
});

describe('infra: alert rules and their action group (deployment snapshot)', () => {
  // Resource types and properties as in the ARM template reference for
  // Microsoft.Insights/scheduledQueryRules (2023-12-01) and Microsoft.Insights/actionGroups (2023-01-01).
  it('puts four log alerts on the Application Insights component, each notifying the one action group', (ctx) => {
    const { snapshot } = infra(ctx);
    const component = only(snapshot.predictedResources, 'Microsoft.Insights/components');
    const group = only(snapshot.predictedResources, 'Microsoft.Insights/actionGroups');
    expect((group as ArmResource & { location?: string }).location).toBe('Global');
    expect(props(group)).toMatchObject({ enabled: true, emailReceivers: [] });
    const rules = snapshot.predictedResources.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
    expect(rules.map((r) => r.name.replace(/^alert-vend-[a-z0-9]+-/, '')).sort()).toEqual(['audit-write-failures', 'auth-failure-spike', 'server-errors', 'upstream-unavailable']);
    for (const rule of rules) {
      expect((rule as ArmResource & { kind?: string }).kind).toBe('LogAlert');
      const p = props(rule) as { scopes: string[]; actions: { actionGroups: string[] }; criteria: { allOf: Record<string, unknown>[] }; enabled: boolean };
      expect(p.enabled).toBe(true);
      expect(p.scopes).toEqual([component.id]);
      expect(p.actions.actionGroups).toEqual([group.id]);
      expect(p.criteria.allOf).toHaveLength(1);
    }
    const criterion = (suffix: string): Record<string, unknown> => (props(only(rules, 'Microsoft.Insights/scheduledQueryRules', new RegExp(`-${suffix}$`))) as { criteria: { allOf: Record<string, unknown>[] } }).criteria.allOf[0] ?? {};
    expect(criterion('audit-write-failures')).toMatchObject({ threshold: 0, operator: 'GreaterThan', query: expect.stringContaining('audit_unavailable') as string });
    expect(criterion('server-errors').query).toMatch(/resultCode\) >= 500/);
    expect(criterion('upstream-unavailable')).toMatchObject({ dimensions: [{ name: 'dependency', operator: 'Include', values: ['*'] }] });
    expect(criterion('auth-failure-spike')).toMatchObject({ threshold: 100, failingPeriods: { numberOfEvaluationPeriods: 3, minFailingPeriodsToAlert: 3 } });
  });

  it('sends email only when an address is given', (ctx) => {
    const { customSnapshot } = infra(ctx);
    const group = only(customSnapshot.predictedResources, 'Microsoft.Insights/actionGroups');
    expect(props(group).emailReceivers).toEqual([{ name: 'operator', emailAddress: 'ops@example.com', useCommonAlertSchema: true }]);
  });
});

describe('infra: outputs and azd wiring', () => {
  it('outputs UPPER_SNAKE names for azd, none of them a secret', (ctx) => {
    const { template } = infra(ctx);
    const names = Object.keys(template.outputs ?? {});
    for (const name of [
      'AZURE_FUNCTION_NAME',
      'AZURE_FUNCTION_URL',
      'SERVICE_API_NAME',
      'SERVICE_API_ENDPOINT',
      'AZURE_KEY_VAULT_NAME',
      'AZURE_KEY_VAULT_URL',
      'AZURE_IDENTITY_CLIENT_ID',
      'AZURE_IDENTITY_PRINCIPAL_ID',
      'AUDIT_TABLE_NAME',
      'AUDIT_STORAGE_ACCOUNT_NAME',
      'VENDING_API_SCOPE',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
    // Outputs land in the azd environment file; a local-only switch there would leak into `npm run host`.
    for (const name of LOCAL_ONLY_SETTINGS) expect(names).not.toContain(name);
    expect(JSON.stringify(template.outputs)).not.toMatch(/secureString|secureObject|ConnectionString/);
  });

  it('gives the parameters file only parameters main.bicep declares, and every required one', async (ctx) => {
    const { template } = infra(ctx);
    const file = JSON.parse(await readFile(join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const declared = template.parameters ?? {};
    for (const name of Object.keys(file.parameters)) expect(Object.keys(declared), name).toContain(name);
    const required = Object.entries(declared)
      .filter(([, p]) => p.defaultValue === undefined)
      .map(([name]) => name);
    for (const name of required) expect(Object.keys(file.parameters), name).toContain(name);
    expect(file.parameters.environmentName?.value).toBe('${AZURE_ENV_NAME}');
    expect(file.parameters.keyVaultName?.value).toBe('${AZURE_KEY_VAULT_NAME}');
    expect(file.parameters.vendingApiAudiences?.value).toEqual(['${VENDING_API_IDENTIFIER_URI}']);
    expect(JSON.stringify(file)).not.toContain('api://dbx-token-vending');
    expect(file.parameters.location?.value).toBe('${AZURE_LOCATION}');
  });

  it('declares the azd project: one TypeScript function service named api', async (ctx) => {
    infra(ctx);
    const azureYaml = await readFile(join(repoRoot, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^name: dbx-token-vending$/m);
    expect(azureYaml).toMatch(/^ {2}api:\n {4}project: \.\n {4}host: function\n {4}language: ts$/m);
    // The package is built locally into deploy/ (test/deploy-package.test.ts holds it to its contract).
    expect(azureYaml).toMatch(/^ {4}dist: deploy$/m);
    expect(azureYaml).toMatch(/^ {4}remoteBuild: false$/m);
  });
});
