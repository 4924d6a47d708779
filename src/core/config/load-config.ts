import type { z } from 'zod';
import { CLOUDS, DATABRICKS_RESOURCE_ID } from './clouds';
import type { CloudName, CloudProfile } from './clouds';
import { ConfigError } from './config-error';
import { readConfigDocument } from './read-document';
import type { Env } from './read-document';
import { configSchema } from './schema';
import type { ApiGrantSettings, AuditorsDocument, ConfigDocument, GrantDocument, PrincipalsDocument, ServicePrincipalDocument } from './schema';
import { readServiceSettings } from './service-settings';
import type { ServiceSettings } from './service-settings';
import { APP_SETTINGS } from './settings';

export type SpCredential =
  | { readonly kind: 'secret'; readonly name: string }
  | { readonly kind: 'certificate'; readonly name: string }
  | { readonly kind: 'federated' };

export interface ServicePrincipal {
  readonly name: string;
  readonly clientId: string;
  readonly credential: SpCredential;
  /** mode oauth: the Entra ID scope of the subject token its Databricks federation policy accepts. */
  readonly federationScope: string;
}

export interface Workspace {
  readonly name: string;
  readonly host: string;
  readonly resourceId: string;
  readonly servicePrincipal: ServicePrincipal;
  /** Who may grant access to it through the API (besides the admins); none: admins only. */
  readonly owners?: PrincipalsDocument | undefined;
}

/** The validated, frozen configuration the whole service runs on. */
export interface VendingConfig {
  readonly cloud: CloudName;
  readonly tenantId: string;
  readonly authorityHost: string;
  readonly v1IssuerBase: string;
  /** The cloud's v2 issuer host, or the authority itself when AZURE_AUTHORITY_HOST points elsewhere. */
  readonly v2IssuerHost: string;
  readonly databricksScope: string;
  readonly managementScope: string;
  readonly audiences: readonly string[];
  readonly allowedTenants: readonly string[];
  readonly keyVaultUrl: string;
  readonly workspaces: ReadonlyMap<string, Workspace>;
  readonly grants: readonly GrantDocument[];
  /** Platform admins: may manage grants of every workspace. */
  readonly admins: PrincipalsDocument | undefined;
  readonly apiGrants: ApiGrantSettings;
  readonly perCallerPerMinute: number;
  /** mode user: the vending API app registration's client id (the on-behalf-of client). */
  readonly onBehalfOfClientId: string | undefined;
  /** Who may read the audit trail; undefined: no one. */
  readonly auditors: AuditorsDocument | undefined;
  readonly service: ServiceSettings;
}

/**
 * Reads and validates everything at once. Any problem stops the app with every offending
 * path listed (no partial start, no defaults for tenant, audiences or grants).
 */
export function loadConfig(env: Env): VendingConfig {
  const issues: string[] = [];
  const raw = readConfigDocument(env, issues);
  const parsed = raw === undefined ? undefined : configSchema.safeParse(raw);
  if (parsed && !parsed.success) issues.push(...formatZodIssues(parsed.error.issues));
  const service = readServiceSettings(env, issues);
  const authorityHost = readAuthorityHost(env, parsed?.data, issues);
  // Cross-references are checked on the raw document too, so one run lists every problem.
  checkReferences(raw, service?.allowLoopbackWorkspaces ?? false, issues);
  // Each step that yields nothing has said why in `issues`; the other checks narrow the types.
  if (!parsed?.success || !service || !authorityHost || issues.length > 0) throw new ConfigError(issues);
  return deepFreeze(buildConfig(parsed.data, service, authorityHost, env));
}

function formatZodIssues(list: readonly z.core.$ZodIssue[]): string[] {
  return list.map((issue) => {
    const message = issue.message.replace(/^Invalid input: expected (\w+), received undefined$/, 'required ($1)');
    return `${issue.path.length ? issue.path.join('.') : '(document)'}: ${message}`;
  });
}

function readAuthorityHost(env: Env, doc: ConfigDocument | undefined, issues: string[]): string | undefined {
  const explicit = env[APP_SETTINGS.AZURE_AUTHORITY_HOST];
  const host = (explicit ?? (doc ? CLOUDS[doc.cloud].authorityHost : undefined))?.replace(/\/+$/, '');
  if (host !== undefined && !/^https:\/\/[^\s/]+$/.test(host)) {
    issues.push(`${APP_SETTINGS.AZURE_AUTHORITY_HOST}: must be an https origin (MSAL refuses anything else)`);
    return undefined;
  }
  return host;
}

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkReferences(raw: unknown, allowLoopback: boolean, issues: string[]): void {
  if (!isObject(raw)) return;
  const sps = isObject(raw.servicePrincipals) ? raw.servicePrincipals : {};
  const workspaces = isObject(raw.workspaces) ? raw.workspaces : {};
  const cloud = typeof raw.cloud === 'string' && Object.hasOwn(CLOUDS, raw.cloud) ? CLOUDS[raw.cloud as CloudName] : undefined;
  for (const [name, ws] of Object.entries(workspaces)) {
    if (!isObject(ws)) continue;
    if (typeof ws.servicePrincipal === 'string' && !Object.hasOwn(sps, ws.servicePrincipal)) issues.push(`workspaces.${name}.servicePrincipal: no service principal named "${ws.servicePrincipal}"`);
    if (typeof ws.host === 'string' && URL.canParse(ws.host)) checkHost(name, new URL(ws.host), cloud, raw.cloud, allowLoopback, issues);
  }
  // Stryker disable next-line ArrayDeclaration: without allowedTenants no tenant named is allowed; a fallback of any text that is no GUID allows none either.
  const allowedTenants = isObject(raw.callers) && Array.isArray(raw.callers.allowedTenants) ? raw.callers.allowedTenants.map((t) => String(t).toLowerCase()) : [];
  if (Array.isArray(raw.grants)) raw.grants.forEach((grant: unknown, i) => {
    if (isObject(grant) && typeof grant.workspace === 'string' && !Object.hasOwn(workspaces, grant.workspace)) issues.push(`grants.${i}.workspace: no workspace named "${grant.workspace}"`);
    checkTenants(`grants.${i}`, grant, allowedTenants, issues);
    if (isObject(grant) && Array.isArray(grant.modes) && grant.modes.includes('user') && !isObject(raw.onBehalfOf)) issues.push(`grants.${i}.modes: mode user needs onBehalfOf.clientId (the vending API app registration)`);
  });
  for (const [name, ws] of Object.entries(workspaces)) if (isObject(ws)) checkTenants(`workspaces.${name}.owners`, ws.owners, allowedTenants, issues);
  checkTenants('admins', raw.admins, allowedTenants, issues);
  checkTenants('auditors', raw.auditors, allowedTenants, issues);
}

/** Grants, owners and admins may name other tenants, but only ones the service accepts tokens from. */
function checkTenants(path: string, holder: unknown, allowedTenants: readonly string[], issues: string[]): void {
  if (!isObject(holder) || !Array.isArray(holder.tenants)) return;
  for (const t of holder.tenants) if (typeof t === 'string' && !allowedTenants.includes(t.toLowerCase())) issues.push(`${path}.tenants: "${t}" is not in callers.allowedTenants`);
}

function checkHost(name: string, url: URL, cloud: CloudProfile | undefined, cloudName: unknown, allowLoopback: boolean, issues: string[]): void {
  const loopback = allowLoopback && (url.hostname === '127.0.0.1' || url.hostname === 'localhost');
  if (cloud && !url.hostname.endsWith(cloud.workspaceHostSuffix) && !loopback) {
    issues.push(`workspaces.${name}.host: must be a workspace host ending in ${cloud.workspaceHostSuffix} for cloud ${String(cloudName)}`);
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username) issues.push(`workspaces.${name}.host: must be an origin only (https://adb-….azuredatabricks.net)`);
}

function buildConfig(doc: ConfigDocument, service: ServiceSettings, authorityHost: string, env: Env): VendingConfig {
  const databricksResource = env[APP_SETTINGS.DATABRICKS_RESOURCE_ID] || DATABRICKS_RESOURCE_ID;
  const sps = new Map(Object.entries(doc.servicePrincipals).map(([name, sp]) => [name, toServicePrincipal(name, sp, databricksResource)]));
  const workspaces = new Map(
    Object.entries(doc.workspaces).map(([name, ws]) => [
      name,
      { name, host: new URL(ws.host).origin, resourceId: ws.resourceId, servicePrincipal: sps.get(ws.servicePrincipal) as ServicePrincipal, owners: ws.owners },
    ]),
  );
  const cloud = CLOUDS[doc.cloud];
  return {
    cloud: doc.cloud,
    tenantId: doc.tenantId.toLowerCase(),
    authorityHost,
    v1IssuerBase: cloud.v1IssuerBase,
    v2IssuerHost: authorityHost === cloud.authorityHost ? cloud.v2IssuerHost : authorityHost,
    databricksScope: `${databricksResource}/.default`,
    managementScope: env[APP_SETTINGS.AZURE_MANAGEMENT_SCOPE] || cloud.managementScope,
    audiences: doc.callers.audiences,
    allowedTenants: doc.callers.allowedTenants.map((t) => t.toLowerCase()),
    keyVaultUrl: doc.keyVaultUrl.replace(/\/+$/, ''),
    workspaces,
    grants: doc.grants,
    admins: doc.admins,
    apiGrants: doc.apiGrants,
    perCallerPerMinute: doc.limits.perCallerPerMinute,
    onBehalfOfClientId: doc.onBehalfOf?.clientId.toLowerCase(),
    auditors: doc.auditors,
    service,
  };
}

function toServicePrincipal(name: string, sp: ServicePrincipalDocument, databricksResource: string): ServicePrincipal {
  const credential: SpCredential = sp.secret
    ? { kind: 'secret', name: sp.secret }
    : sp.certificate
      ? { kind: 'certificate', name: sp.certificate }
      : { kind: 'federated' };
  return { name, clientId: sp.clientId, credential, federationScope: `${(sp.federationAudience ?? databricksResource).replace(/\/+$/, '')}/.default` };
}

function deepFreeze<T>(value: T): T {
  // Primitives count as frozen; a Buffer (the audit key) cannot be frozen and is left as it is.
  if (Object.isFrozen(value) || Buffer.isBuffer(value)) return value;
  for (const v of value instanceof Map ? value.values() : Object.values(value as object)) deepFreeze(v);
  return Object.freeze(value);
}
