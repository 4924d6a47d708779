import { z } from 'zod';
import { apiScopeProblem, scopeCovers } from '../policy/api-scopes';
import { CLOUDS } from './clouds';

// The shape of VENDING_CONFIG (DESIGN §3). Strict objects everywhere: a misspelled key is an
// error, not a silently ignored setting. Security-relevant values (tenant, audiences, grants)
// have no defaults.

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
/** The syntax of every configured name; requests are checked against it before anything else sees a name. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const NAME_RULE = 'must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit';
const alias = z.string().regex(NAME_PATTERN, NAME_RULE);
const vaultObjectName = z.string().regex(/^[A-Za-z0-9-]{1,127}$/, 'must be a Key Vault object name (1-127 of [A-Za-z0-9-])');
const apiScope = z.string().max(100).superRefine((s, ctx) => {
  const problem = apiScopeProblem(s);
  if (problem) ctx.addIssue(problem);
});
const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https URL' });

const servicePrincipal = z
  .strictObject({
    clientId: guid,
    secret: vaultObjectName.optional(),
    certificate: vaultObjectName.optional(),
    federated: z.literal(true).optional(),
    // mode oauth: the audience of the SP's Entra ID token that its Databricks federation policy
    // accepts (the token is requested for `<audience>/.default`). Default: the AzureDatabricks app.
    federationAudience: z.string().min(1).max(200).regex(/^[^\s]+$/, 'must not contain spaces').optional(),
  })
  .refine((sp) => [sp.secret, sp.certificate, sp.federated].filter((v) => v !== undefined).length === 1, {
    message: 'must have exactly one credential: secret, certificate or federated: true',
  });

/** Owners and admins: principal ids plus the tenants they may come from (default: tenantId only). */
/** Who a grant, an owner list, the admins or the auditors name: app roles, app ids, object ids. */
const principalIds = {
  roles: z.array(z.string().min(1).max(120)).default([]),
  appIds: z.array(guid).default([]),
  objectIds: z.array(guid).default([]),
};

const principals = z.strictObject({
  ...principalIds,
  tenants: z.array(guid).min(1).optional(),
}).refine((c) => c.roles.length + c.appIds.length + c.objectIds.length > 0, {
  message: 'must name at least one role, app id or object id',
});

const workspace = z.strictObject({
  host: httpsUrl,
  resourceId: z
    .string()
    .regex(
      /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.Databricks\/workspaces\/[^/]+$/i,
      'must be a Databricks workspace resource id (/subscriptions/…/providers/Microsoft.Databricks/workspaces/…)',
    ),
  servicePrincipal: alias,
  // Who may grant access to this workspace through the API, besides the admins.
  owners: principals.optional(),
});

/** A grant's fields; API grants take the same ones (plus expiry and reason), with the same checks (checkGrant). */
export const grantFields = z.strictObject({
  workspace: alias,
  // Tenants whose principals the grant admits (each in callers.allowedTenants); default: tenantId only.
  tenants: z.array(guid).min(1).optional(),
  callers: z
    .strictObject({
      ...principalIds,
      // Users (delegated tokens) who come through one of these client apps. Explicit on purpose:
      // appIds alone names the app acting as itself, never every user who signs in through it.
      usersViaAppIds: z.array(guid).optional(),
    })
    .refine((c) => c.roles.length + c.appIds.length + c.objectIds.length + (c.usersViaAppIds?.length ?? 0) > 0, {
      message: 'must name at least one role, app id, object id or usersViaAppIds entry',
    }),
  modes: z.array(z.enum(['aad', 'pat', 'oauth', 'user'])).min(1),
  maxLifetimeSeconds: z.int().min(60).max(86_400),
  managementToken: z.boolean().default(false),
  /** Live PATs one caller may hold under this grant (default 20; Databricks allows 600 per SP and workspace, shared by all callers). */
  maxLivePats: z.int().min(1).max(600).optional(),
  // Databricks API scopes a caller may ask for (oauth; pat too when set) and the ones it gets by default.
  scopes: z.array(apiScope).max(64).optional(),
  defaultScopes: z.array(apiScope).max(64).optional(),
});

/** The checks across a grant's fields, for config grants and API grants alike. */
export function checkGrant(g: { modes?: readonly string[] | undefined; scopes?: readonly string[] | undefined; defaultScopes?: readonly string[] | undefined }, ctx: z.RefinementCtx): void {
  if (g.modes?.includes('oauth') && !g.scopes?.length) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'mode oauth needs the scopes a caller may ask for' });
  for (const s of g.defaultScopes ?? []) {
    if (!g.scopes?.some((a) => scopeCovers(a, s))) ctx.addIssue({ code: 'custom', path: ['defaultScopes'], message: `default scope "${s}" is not within the grant's scopes` });
  }
}

export const grantSchema = grantFields.superRefine(checkGrant);

// Who may read the audit trail (GET /api/audit): matched like a grant's callers, tenant-bound the
// same way. Absent: no one. maxSpanDays bounds one query's time range (each day is a set of
// partition queries).
const auditors = z.strictObject({
  tenants: z.array(guid).min(1).optional(),
  callers: z
    .strictObject({
      ...principalIds,
    })
    .refine((c) => c.roles.length + c.appIds.length + c.objectIds.length > 0, { message: 'must name at least one role, app id or object id' }),
  maxSpanDays: z.int().min(1).max(366).default(31),
});

export const configSchema = z.strictObject({
  cloud: z.enum(Object.keys(CLOUDS) as [keyof typeof CLOUDS, ...(keyof typeof CLOUDS)[]]),
  tenantId: guid,
  callers: z.strictObject({
    audiences: z.array(z.string().min(1)).min(1),
    allowedTenants: z.array(guid).min(1),
  }),
  keyVaultUrl: httpsUrl,
  servicePrincipals: z.record(alias, servicePrincipal),
  workspaces: z.record(alias, workspace),
  grants: z.array(grantSchema),
  // mode user: the vending API's own app registration, whose federated credential trusts the app's
  // managed identity; it is the client of the on-behalf-of exchange.
  onBehalfOf: z.strictObject({ clientId: guid }).optional(),
  // Platform admins: may grant, review and revoke access to every workspace through the API.
  admins: principals.optional(),
  apiGrants: z
    .strictObject({
      defaultExpiryDays: z.int().min(1).max(3650).default(90),
      maxExpiryDays: z.int().min(1).max(3650).default(365),
      // How often each instance re-reads the grants table, and how long it trusts its last good read.
      refreshSeconds: z.int().min(1).max(10).default(10),
      maxStaleSeconds: z.int().min(5).max(86_400).default(300),
    })
    .refine((g) => g.defaultExpiryDays <= g.maxExpiryDays, { message: 'defaultExpiryDays must not exceed maxExpiryDays' })
    .default({ defaultExpiryDays: 90, maxExpiryDays: 365, refreshSeconds: 10, maxStaleSeconds: 300 }),
  auditors: auditors.optional(),
  limits: z.strictObject({ perCallerPerMinute: z.int().min(1).max(100_000) }).default({ perCallerPerMinute: 120 }),
});

export type ConfigDocument = z.infer<typeof configSchema>;
export type GrantDocument = ConfigDocument['grants'][number];
export type PrincipalsDocument = NonNullable<ConfigDocument['admins']>;
export type ApiGrantSettings = ConfigDocument['apiGrants'];
export type ServicePrincipalDocument = ConfigDocument['servicePrincipals'][string];
export type WorkspaceDocument = ConfigDocument['workspaces'][string];
export type AuditorsDocument = NonNullable<ConfigDocument['auditors']>;
