import { randomBytes, randomUUID } from 'node:crypto';
import { FaultInjector } from './faults.js';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { AAD_ERRORS, aadError } from './aad-error.js';
import { mintAccessToken } from './access-token.js';
import { signCallerToken } from './caller-token.js';
import type { CallerTokenOptions } from './caller-token.js';
import { rolesFor, toRegisteredClient } from './clients.js';
import type { ClientRegistration, RegisteredClient } from './clients.js';
import { openIdConfiguration } from './discovery.js';
import { json, startService } from './service.js';
import type { Service, ServiceRequest, ServiceResponse } from './service.js';
import { SigningKeyRing } from './signing-keys.js';
import { CredentialLedger } from './credential-ledger.js';
import { handleManagedIdentityRequest, MANAGED_IDENTITY_PATH } from './managed-identity-endpoint.js';
import { handleTokenRequest, resourceOfScope } from './token-endpoint.js';

export interface LocalAuthorityOptions {
  readonly tenantId: string;
  readonly tls: { readonly key: string; readonly cert: string };
  readonly tokenLifetimeSeconds: number;
  readonly quiet: boolean;
}

export interface TokenRequestFilter {
  readonly clientId?: string;
  readonly scope?: string;
}

type Route = 'discovery-v2' | 'discovery-v1' | 'keys' | 'token';

const ROUTES: Readonly<Record<string, Route>> = {
  'GET v2.0/.well-known/openid-configuration': 'discovery-v2',
  'GET .well-known/openid-configuration': 'discovery-v1',
  'GET discovery/v2.0/keys': 'keys',
  'GET discovery/keys': 'keys',
  'POST oauth2/v2.0/token': 'token',
};

/** A local Entra ID authority for one tenant: discovery, signing keys and the client-credentials grant. */
export class LocalAuthority {
  /** Tests only: slow or failing answers (see faults.ts). */
  readonly faults = new FaultInjector();
  readonly tenantId: string;
  private readonly clients = new Map<string, RegisteredClient>();
  private readonly tokenLog: TokenRequestFilter[] = [];
  /** Requests to the managed identity endpoint: the identity's client id and the resource asked for. */
  private readonly identityLog: { clientId: string; resource: string }[] = [];
  /** Every credential the sandbox's services issue or receive (shared with the vault and the workspace). */
  readonly credentials = new CredentialLedger();
  /** The App Service managed identity endpoint's shared secret (`IDENTITY_HEADER`). */
  readonly #identityHeader = randomBytes(24).toString('base64url');
  private readonly user = { objectId: randomUUID(), subject: randomUUID(), upn: 'sandbox.user@sandbox.example', name: 'Sandbox User' };
  private service: Service | undefined;
  private jwksDown = false;
  private defaultCallerId: string = randomUUID();

  private constructor(
    private readonly options: LocalAuthorityOptions,
    private readonly keys: SigningKeyRing,
  ) {
    this.tenantId = options.tenantId.toLowerCase();
  }

  static async start(options: LocalAuthorityOptions): Promise<LocalAuthority> {
    const authority = new LocalAuthority(options, await SigningKeyRing.create());
    authority.service = await startService({
      faults: authority.faults,
      name: 'authority', tls: options.tls, quiet: options.quiet, handler: authority.credentials.tap((req) => authority.route(req)),
    });
    return authority;
  }

  /** `https://127.0.0.1:<port>`, no trailing slash: the `AZURE_AUTHORITY_HOST`. */
  get authorityHost(): string {
    if (!this.service) throw new TypeError('authority not started');
    return this.service.url;
  }

  /** `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` of an App Service whose managed identity is a registered client. */
  get managedIdentity(): { readonly endpoint: string; readonly header: string } {
    return { endpoint: `${this.authorityHost}${MANAGED_IDENTITY_PATH}`, header: this.#identityHeader };
  }

  /** The v2 issuer of every token this authority mints. */
  get issuer(): string {
    return `${this.authorityHost}/${this.tenantId}/v2.0`;
  }

  get issuerV1(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }

  get tokenEndpoint(): string {
    return `${this.authorityHost}/${this.tenantId}/oauth2/v2.0/token`;
  }

  /** The UPN of the sandbox's one user (the subject of `issueCallerToken({ kind: 'user' })`). */
  get userPrincipalName(): string {
    return this.user.upn;
  }

  get signingKid(): string {
    return this.keys.current.kid;
  }

  registerClient(clientId: string, registration: ClientRegistration = {}): void {
    this.clients.set(clientId, toRegisteredClient(clientId, registration));
    for (const secret of registration.secrets ?? []) this.credentials.recordSecret(secret);
  }

  /** Replaces the client's secrets: a secret not in the new list is refused from now on. */
  setClientSecrets(clientId: string, secrets: readonly string[]): void {
    this.requireClient(clientId).secrets = [...secrets];
    for (const secret of secrets) this.credentials.recordSecret(secret);
  }

  objectIdOf(clientId: string): string | undefined {
    return this.clients.get(clientId)?.objectId;
  }

  /** The number of POSTs to the token endpoint (failed ones included) matching the filter. */
  tokenRequests(filter: TokenRequestFilter = {}): number {
    return this.tokenLog.filter((entry) =>
      (filter.clientId === undefined || entry.clientId === filter.clientId) &&
      (filter.scope === undefined || entry.scope === filter.scope)).length;
  }

  /** The resources the managed identity endpoint was asked for (answered or not), in order, per client id. */
  managedIdentityRequests(clientId?: string): string[] {
    return this.identityLog.filter((e) => clientId === undefined || e.clientId === clientId).map((e) => e.resource);
  }

  resetCounters(): void {
    this.tokenLog.length = 0;
    this.identityLog.length = 0;
  }

  /** While down, connections are refused at once and open ones are cut. */
  setDown(down: boolean): void {
    this.service?.setDown(down);
  }

  /** While set, only the signing-keys endpoints fail (503). */
  setJwksDown(down: boolean): void {
    this.jwksDown = down;
  }

  /** A new current signing key; the previous ones stay published unless retired. Returns the new kid. */
  rotateSigningKey(opts: { retirePrevious?: boolean } = {}): Promise<string> {
    return this.keys.rotate(opts.retirePrevious ?? false);
  }

  jwks(): JSONWebKeySet {
    return this.keys.jwks();
  }

  /** A verifier key set over the currently published keys (for in-process verification). */
  keySet(): JWTVerifyGetKey {
    return this.keys.localKeySet();
  }

  /** The caller app that `issueCallerToken` defaults to. */
  setDefaultCaller(clientId: string): void {
    this.defaultCallerId = clientId;
  }

  /** A caller token signed in-process (no request to the token endpoint, nothing counted). */
  readonly issueCallerToken = (opts: CallerTokenOptions = {}): Promise<string> =>
    signCallerToken({
      authorityHost: this.authorityHost,
      tenantId: this.tenantId,
      signingKey: this.keys.current,
      defaultClientId: this.defaultCallerId,
      objectIdOf: (clientId) => this.objectIdOf(clientId) ?? this.stableObjectId(clientId),
      user: this.user,
    }, opts).then((token) => (this.credentials.record(token), token));

  /**
   * The access token the token endpoint would grant the client for `scope`, minted in-process (not
   * counted). A negative `lifetimeSeconds` gives an already expired token.
   */
  async issueAccessToken(clientId: string, scope: string, opts: { lifetimeSeconds?: number } = {}): Promise<string> {
    const client = this.requireClient(clientId);
    const resource = resourceOfScope(scope);
    if (!resource) throw new TypeError('scope must be one <resource>/.default');
    const minted = await mintAccessToken({
      tenantId: this.tenantId, issuer: this.issuer, clientId, objectId: client.objectId, audience: resource,
      roles: rolesFor(client, resource), displayName: client.displayName, authMethod: '1',
      lifetimeSeconds: opts.lifetimeSeconds ?? this.options.tokenLifetimeSeconds, key: this.keys.current,
    });
    this.credentials.record(minted.token);
    return minted.token;
  }

  async close(): Promise<void> {
    await this.service?.close();
  }

  private readonly unknownObjectIds = new Map<string, string>();

  private stableObjectId(clientId: string): string {
    let oid = this.unknownObjectIds.get(clientId);
    if (!oid) this.unknownObjectIds.set(clientId, (oid = randomUUID()));
    return oid;
  }

  private requireClient(clientId: string): RegisteredClient {
    const client = this.clients.get(clientId);
    if (!client) throw new TypeError('unknown client id');
    return client;
  }

  private async route(req: ServiceRequest): Promise<ServiceResponse> {
    if (req.method === 'GET' && req.path === MANAGED_IDENTITY_PATH) {
      this.identityLog.push({ clientId: req.query.get('client_id') ?? '', resource: req.query.get('resource') ?? '' });
      return handleManagedIdentityRequest({
        tenantId: this.tenantId, issuerV1: this.issuerV1, issuerV2: this.issuer, identityHeader: this.#identityHeader,
        lifetimeSeconds: this.options.tokenLifetimeSeconds, signingKey: this.keys.current, client: (id) => this.clients.get(id),
      }, req);
    }
    const match = /^\/([^/]+)\/(.+)$/.exec(req.path);
    const route = match ? ROUTES[`${req.method} ${match[2]}`] : undefined;
    if (!match || !route) return aadError(AAD_ERRORS.notFound(), req.headers);
    if (route === 'token') this.recordTokenRequest(req);
    if (match[1].toLowerCase() !== this.tenantId) {
      return aadError(AAD_ERRORS.tenantNotFound(match[1].slice(0, 64)), req.headers);
    }
    switch (route) {
      case 'discovery-v2': return json(200, openIdConfiguration(this.authorityHost, this.tenantId, 'v2'));
      case 'discovery-v1': return json(200, openIdConfiguration(this.authorityHost, this.tenantId, 'v1'));
      case 'keys': return this.jwksDown ? json(503, { error: 'temporarily_unavailable' }) : json(200, this.jwks());
      case 'token': return handleTokenRequest({
        tenantId: this.tenantId, tokenEndpoint: this.tokenEndpoint, issuer: this.issuer,
        lifetimeSeconds: this.options.tokenLifetimeSeconds, signingKey: this.keys.current, keySet: this.keySet(),
        client: (clientId) => this.clients.get(clientId),
      }, req);
    }
  }

  private recordTokenRequest(req: ServiceRequest): void {
    const form = new URLSearchParams(req.body.toString('utf8'));
    this.tokenLog.push({ clientId: form.get('client_id') ?? '', scope: form.get('scope') ?? '' });
  }
}
