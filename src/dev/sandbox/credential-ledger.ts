import type { ServiceHandler, ServiceRequest, ServiceResponse } from './service.js';

/** Request headers that carry a credential (Authorization's bearer, the management token). */
const CREDENTIAL_HEADERS = ['authorization', 'x-databricks-azure-sp-management-token', 'x-identity-header'];
/** Form fields (token endpoint) and JSON fields (answers) that carry one. */
const CREDENTIAL_FIELDS = ['client_secret', 'client_assertion', 'access_token', 'token_value', 'refresh_token', 'id_token'];

/**
 * Every credential the sandbox's authorities issue or receive: access tokens they mint, client
 * secrets and assertions presented to the token endpoint, bearer tokens presented to the vault
 * and the workspace, PATs the workspace creates. Tests scan for all of them, so a credential the
 * service obtains for itself (its Key Vault token, its token-exchange token, a PAT it revokes)
 * counts as a leak exactly like a vended one. Only kept in memory, never logged.
 */
export class CredentialLedger {
  readonly #seen = new Set<string>();

  record(value: string | undefined | null): void {
    const v = value?.replace(/^(Bearer|PoP)\s+/i, '').trim();
    if (v && v.length >= 16) this.#seen.add(v);
  }

  /**
   * A stored secret (a vault secret, a client secret). A PEM private key is kept line by line
   * (each base64 line of its body), so a log that carries the key joined or JSON-escaped is still
   * found; certificates in the same PEM are public and are not kept.
   */
  recordSecret(value: string): void {
    const keys = [...value.matchAll(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----([\s\S]*?)-----END \1PRIVATE KEY-----/g)];
    if (keys.length === 0) return this.record(value);
    for (const key of keys) for (const line of (key[2] ?? '').split(/\r?\n/)) this.record(line.trim());
  }

  all(): string[] {
    return [...this.#seen];
  }

  /** Wraps a service handler: what comes in and what goes out is recorded before it is answered. */
  tap(handler: ServiceHandler): ServiceHandler {
    return async (req) => {
      this.#fromRequest(req);
      const res = await handler(req);
      this.#fromResponse(res);
      return res;
    };
  }

  #fromRequest(req: ServiceRequest): void {
    for (const name of CREDENTIAL_HEADERS) {
      const value = req.headers[name];
      for (const v of Array.isArray(value) ? value : [value]) this.record(v);
    }
    const text = req.body.toString('utf8');
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams(text);
      for (const field of CREDENTIAL_FIELDS) this.record(form.get(field));
    } else if (text.startsWith('{')) {
      this.#fromJson(text);
    }
  }

  #fromResponse(res: ServiceResponse): void {
    if (res.json !== undefined) this.#fromJson(JSON.stringify(res.json));
  }

  #fromJson(text: string): void {
    try {
      collect(JSON.parse(text), (v) => this.record(v));
    } catch {
      // not JSON: nothing to record
    }
  }
}

function collect(value: unknown, found: (v: string) => void): void {
  if (Array.isArray(value)) for (const v of value) collect(v, found);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (typeof v === 'string' && CREDENTIAL_FIELDS.includes(key)) found(v);
      else collect(v, found);
    }
  }
}
