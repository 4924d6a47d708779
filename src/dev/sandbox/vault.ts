import { randomBytes } from 'node:crypto';
import { FaultInjector } from './faults.js';
import type { LocalAuthority } from './authority.js';
import { bearerOf, verifyAuthorityToken } from './bearer.js';
import { json, startService } from './service.js';
import type { Service, ServiceRequest, ServiceResponse } from './service.js';

/** The resource Key Vault tokens are issued for (and that the challenge names). */
export const VAULT_RESOURCE = 'https://vault.azure.net';
/**
 * Reached by a name under `vault.localhost` (e.g. `kv.vault.localhost`), the vault names this
 * resource in its challenge instead, as Azure names the resource its host belongs to: the SDK's
 * challenge verification (the vault host must end with `.` + the resource host) then passes.
 */
export const LOCAL_VAULT_RESOURCE = 'https://vault.localhost';
const VAULT_AUDIENCES = [VAULT_RESOURCE, `${VAULT_RESOURCE}/`, LOCAL_VAULT_RESOURCE, `${LOCAL_VAULT_RESOURCE}/`];
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;

export interface LocalVaultOptions {
  readonly authority: LocalAuthority;
  readonly tls: { readonly key: string; readonly cert: string };
  readonly quiet: boolean;
}

interface SecretVersion {
  readonly version: string;
  readonly value: string;
  readonly created: number;
}

const vaultError = (status: number, code: string, message: string, headers?: Record<string, string>): ServiceResponse =>
  json(status, { error: { code, message } }, headers);

/**
 * A local Key Vault (secrets, read side) speaking the real challenge protocol: an unauthenticated
 * request gets 401 with `WWW-Authenticate` naming the authority and resource; a bearer token must be
 * the authority's, for the vault, and its app must be an allowed reader (RBAC "Key Vault Secrets User").
 */
export class LocalVault {
  /** Tests only: slow or failing answers (see faults.ts). */
  readonly faults = new FaultInjector();
  private readonly secrets = new Map<string, SecretVersion[]>();
  private readonly readers = new Set<string>();
  private readonly reads: string[] = [];
  private service: Service | undefined;
  private throttled = false;

  private constructor(private readonly authority: LocalAuthority) {}

  static async start(options: LocalVaultOptions): Promise<LocalVault> {
    const vault = new LocalVault(options.authority);
    vault.service = await startService({
      faults: vault.faults,
      name: 'vault', tls: options.tls, quiet: options.quiet, handler: options.authority.credentials.tap((req) => vault.route(req)),
    });
    return vault;
  }

  get vaultUrl(): string {
    if (!this.service) throw new TypeError('vault not started');
    return this.service.url;
  }

  /** Adds a new version (32 hex digits, returned) that becomes the latest. */
  setSecret(name: string, value: string): string {
    if (!SECRET_NAME.test(name)) throw new TypeError('invalid secret name');
    this.authority.credentials.recordSecret(value);
    const version = randomBytes(16).toString('hex');
    const versions = this.secrets.get(name) ?? [];
    versions.push({ version, value, created: Math.floor(Date.now() / 1000) });
    this.secrets.set(name, versions);
    return version;
  }

  deleteSecret(name: string): void {
    this.secrets.delete(name);
  }

  allowReader(clientId: string): void {
    this.readers.add(clientId);
  }

  removeReader(clientId: string): void {
    this.readers.delete(clientId);
  }

  /** Successful authenticated reads, of one secret or of all. */
  secretReads(name?: string): number {
    return name === undefined ? this.reads.length : this.reads.filter((read) => read === name).length;
  }

  resetCounters(): void {
    this.reads.length = 0;
  }

  setDown(down: boolean): void {
    this.service?.setDown(down);
  }

  /** While set, authenticated requests get 429 with `Retry-After: 1`. */
  setThrottled(throttled: boolean): void {
    this.throttled = throttled;
  }

  async close(): Promise<void> {
    await this.service?.close();
  }

  private challenge(message: string, host: string | undefined): ServiceResponse {
    const resource = /\.vault\.localhost(:\d+)?$/i.test(host ?? '') ? LOCAL_VAULT_RESOURCE : VAULT_RESOURCE;
    const header = `Bearer authorization="${this.authority.authorityHost}/${this.authority.tenantId}", resource="${resource}"`;
    return vaultError(401, 'Unauthorized', message, { 'www-authenticate': header });
  }

  private async route(req: ServiceRequest): Promise<ServiceResponse> {
    const token = bearerOf(req.headers);
    if (!token) return this.challenge('AKV10000: Request is missing a Bearer or PoP token.', req.headers.host);
    const claims = await verifyAuthorityToken(this.authority, token, VAULT_AUDIENCES);
    if (!claims) return this.challenge('AKV10022: Invalid token: signature, issuer, audience, tenant or lifetime rejected.', req.headers.host);
    if (!this.readers.has(claims.appid)) {
      return vaultError(403, 'Forbidden', `Caller is not authorized to perform action on resource. Caller: appid=${claims.appid}. ` +
        "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'.");
    }
    if (this.throttled) return vaultError(429, 'Throttled', 'Request was not processed because too many requests were received.', { 'retry-after': '1' });
    if (req.method !== 'GET') return vaultError(405, 'MethodNotAllowed', 'The sandbox vault only reads secrets.');
    return this.readSecret(req.path);
  }

  private readSecret(path: string): ServiceResponse {
    const match = /^\/secrets\/([^/]+)(?:\/([^/]*))?$/.exec(path);
    if (!match || !SECRET_NAME.test(match[1])) return vaultError(400, 'BadParameter', 'The request URI is not a secret identifier.');
    const [, name, version] = match as unknown as [string, string, string | undefined];
    const versions = this.secrets.get(name) ?? [];
    const found = version ? versions.find((v) => v.version === version) : versions.at(-1);
    if (!found) {
      return vaultError(404, 'SecretNotFound', `A secret with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault. ` +
        'If you recently deleted this secret you may be able to recover it using the correct recovery command.');
    }
    this.reads.push(name);
    return json(200, {
      value: found.value,
      id: `${this.vaultUrl}/secrets/${name}/${found.version}`,
      attributes: { enabled: true, created: found.created, updated: found.created, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
      tags: {},
    });
  }
}
