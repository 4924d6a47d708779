import { randomInt } from 'node:crypto';
import { FaultInjector } from './faults.js';
import type { LocalAuthority } from './authority.js';
import { bearerOf, verifyAuthorityToken } from './bearer.js';
import { PatStore } from './pat-store.js';
import type { PatInfo } from './pat-store.js';
import { json, startService } from './service.js';
import type { Service, ServiceRequest, ServiceResponse } from './service.js';
import { createCluster, createPat, dbxError, deletePat, listPats, me } from './workspace-api.js';
import { WorkspaceOAuth } from './workspace-oauth.js';
import type { FederationPolicy } from './workspace-oauth.js';
import { scopesAllow } from './workspace-scopes.js';
import type { WorkspaceMember } from './workspace-api.js';

/** The AzureDatabricks first-party application: the `aud` of Entra ID tokens for any workspace. */
export const AZURE_DATABRICKS_APP_ID = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';
export const MANAGEMENT_RESOURCE = 'https://management.core.windows.net/';
const MANAGEMENT_AUDIENCES = [MANAGEMENT_RESOURCE, MANAGEMENT_RESOURCE.slice(0, -1)];
export const MANAGEMENT_TOKEN_HEADER = 'x-databricks-azure-sp-management-token';
export const WORKSPACE_RESOURCE_ID_HEADER = 'x-databricks-azure-workspace-resource-id';

export interface LocalWorkspaceOptions {
  readonly authority: LocalAuthority;
  readonly resourceId: string;
  readonly tls: { readonly key: string; readonly cert: string };
  readonly quiet: boolean;
}

const header = (req: ServiceRequest, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * A local Azure Databricks workspace API. Callers are a PAT it issued or an Entra ID token for
 * AzureDatabricks whose app is a member — or, with a management token of the same app and this
 * workspace's resource id, an app that Azure would treat as Contributor: it is added on first use.
 */
export class LocalWorkspace {
  /** Tests only: slow or failing answers (see faults.ts). */
  readonly faults = new FaultInjector();
  readonly resourceId: string;
  private readonly members = new Map<string, WorkspaceMember>();
  /** Users by user principal name (they reach the workspace with their own Entra ID token). */
  private readonly users = new Map<string, WorkspaceMember>();
  private oauthSide: WorkspaceOAuth | undefined;
  private readonly pats = new PatStore();
  private readonly requestLog: string[] = [];
  private service: Service | undefined;

  private constructor(private readonly authority: LocalAuthority, resourceId: string) {
    this.resourceId = resourceId;
  }

  static async start(options: LocalWorkspaceOptions): Promise<LocalWorkspace> {
    const workspace = new LocalWorkspace(options.authority, options.resourceId);
    workspace.service = await startService({
      faults: workspace.faults,
      name: 'workspace', tls: options.tls, quiet: options.quiet, handler: options.authority.credentials.tap((req) => workspace.route(req)),
    });
    workspace.oauthSide = await WorkspaceOAuth.create(`${workspace.service.url}/oidc`);
    return workspace;
  }

  get workspaceUrl(): string {
    if (!this.service) throw new TypeError('workspace not started');
    return this.service.url;
  }

  addServicePrincipal(appId: string, displayName: string = appId): void {
    this.members.set(appId, { appId, displayName, id: String(randomInt(1e14, 2 ** 48 - 1)) });
  }

  /** A workspace user, known by UPN: their on-behalf-of tokens are accepted and `Me` names them. */
  addUser(upn: string, displayName: string = upn): void {
    this.users.set(upn.toLowerCase(), { appId: upn, displayName, id: String(randomInt(1e14, 2 ** 48 - 1)) });
  }

  /** A service principal federation policy (the account console's, kept here per workspace). */
  setFederationPolicy(clientId: string, policy: FederationPolicy): void {
    this.oauth.setFederationPolicy(clientId, policy);
  }

  clearFederationPolicies(clientId: string): void {
    this.oauth.clearFederationPolicies(clientId);
  }

  /** The issuer of this workspace's own OAuth tokens. */
  get oauthIssuer(): string {
    return this.oauth.issuer;
  }

  private get oauth(): WorkspaceOAuth {
    if (!this.oauthSide) throw new TypeError('workspace not started');
    return this.oauthSide;
  }

  removeServicePrincipal(appId: string): void {
    this.members.delete(appId);
  }

  isMember(appId: string): boolean {
    return this.members.has(appId);
  }

  /** The PATs that exist now (live or expired, not revoked), of one principal or all. */
  listTokens(appId?: string): PatInfo[] {
    return this.pats.list(appId);
  }

  /** Requests received (authenticated or not), to one path or all. */
  requests(path?: string): number {
    return path === undefined ? this.requestLog.length : this.requestLog.filter((p) => p === path).length;
  }

  resetCounters(): void {
    this.requestLog.length = 0;
  }

  setDown(down: boolean): void {
    this.service?.setDown(down);
  }

  async close(): Promise<void> {
    await this.service?.close();
  }

  private async route(req: ServiceRequest): Promise<ServiceResponse> {
    this.requestLog.push(req.path);
    if (req.method === 'POST' && req.path === '/oidc/v1/token') {
      return this.oauth.exchange(req, { keySet: this.authority.keySet() }, (appId) => this.members.has(appId));
    }
    const caller = await this.authenticate(req);
    if (!('appId' in caller)) return caller;
    // A scoped token (workspace OAuth token, or PAT created with scopes) reaches its scopes only.
    const scopes = this.scopesOf.get(req);
    const allowed = scopes ? scopesAllow(scopes, req.method, req.path) : { ok: true as const };
    if (!allowed.ok) return dbxError(403, 'PERMISSION_DENIED', `Provided OAuth token does not have required scopes: ${allowed.needed}`);
    switch (`${req.method} ${req.path}`) {
      case 'GET /api/2.0/preview/scim/v2/Me': return me(caller);
      case 'GET /api/2.0/clusters/list': return json(200, { clusters: [] });
      case 'POST /api/2.0/clusters/create': return createCluster();
      case 'POST /api/2.0/token/create': return createPat(this.pats, caller.appId, req);
      case 'POST /api/2.0/token/delete': return deletePat(this.pats, caller.appId, req);
      case 'GET /api/2.0/token/list': return listPats(this.pats, caller.appId);
      default: return dbxError(404, 'ENDPOINT_NOT_FOUND', 'No API found for this method and path.');
    }
  }

  /** The calling member, or the error answer. No answer ever repeats a presented token. */
  /** The scopes of the token a request authenticated with, when it is a scoped one. */
  private readonly scopesOf = new WeakMap<ServiceRequest, readonly string[]>();

  private async authenticate(req: ServiceRequest): Promise<WorkspaceMember | ServiceResponse> {
    const token = bearerOf(req.headers);
    if (!token) return dbxError(401, 'UNAUTHENTICATED', 'Credential was not sent or was of an unsupported type for this API.');
    if (token.startsWith('dapi')) {
      const pat = this.pats.lookup(token);
      if (!pat) return dbxError(401, 'INVALID_TOKEN', 'Invalid access token.');
      if (pat.scopes) this.scopesOf.set(req, pat.scopes);
      return this.members.get(pat.owner) ?? dbxError(403, 'PERMISSION_DENIED', 'The token owner is no longer a workspace member.');
    }
    if (this.oauth.isOwnToken(token)) {
      const own = await this.oauth.verify(token);
      if (!own) return dbxError(401, 'INVALID_TOKEN', 'Invalid access token.');
      this.scopesOf.set(req, own.scopes);
      return this.members.get(own.principal) ?? dbxError(403, 'PERMISSION_DENIED', 'The token owner is no longer a workspace member.');
    }
    const claims = await verifyAuthorityToken(this.authority, token, [AZURE_DATABRICKS_APP_ID]);
    if (!claims) return dbxError(401, 'INVALID_TOKEN', 'Invalid access token.');
    if (claims.idtyp === 'user') {
      const upn = typeof claims.upn === 'string' ? claims.upn.toLowerCase() : '';
      return this.users.get(upn) ?? dbxError(403, 'PERMISSION_DENIED', 'This user is not a member of this workspace.');
    }
    const member = this.members.get(claims.appid);
    if (member) return member;
    if (await this.mayJoin(req, claims.appid)) {
      const name = typeof claims.app_displayname === 'string' ? claims.app_displayname : claims.appid;
      this.addServicePrincipal(claims.appid, name);
      return this.members.get(claims.appid)!;
    }
    return dbxError(403, 'PERMISSION_DENIED', `Service principal ${claims.appid} is not a member of this workspace ` +
      'and no valid management token with the workspace resource id was presented.');
  }

  private async mayJoin(req: ServiceRequest, appId: string): Promise<boolean> {
    const managementToken = header(req, MANAGEMENT_TOKEN_HEADER);
    const resourceId = header(req, WORKSPACE_RESOURCE_ID_HEADER);
    // ARM resource ids compare case-insensitively.
    if (!managementToken || resourceId?.toLowerCase() !== this.resourceId.toLowerCase()) return false;
    const claims = await verifyAuthorityToken(this.authority, managementToken, MANAGEMENT_AUDIENCES);
    return claims?.appid === appId;
  }
}
