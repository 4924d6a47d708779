/**
 * `aad`: the SP's Entra ID token (every workspace the SP is in); `pat`: a revocable PAT;
 * `oauth`: a Databricks OAuth token of that workspace only, for the requested API scopes;
 * `user`: the calling user's own token (on-behalf-of).
 */
export type TokenMode = 'aad' | 'pat' | 'oauth' | 'user';

/**
 * The shape of an Azure SDK credential (`@azure/identity`'s `DefaultAzureCredential`,
 * `ManagedIdentityCredential`, …), declared here so the client itself depends on no package.
 */
export interface TokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number; refreshAfterTimestamp?: number } | null>;
}

/** Milliseconds since the epoch, like `Date`; injectable so tests need no real clock. */
export interface Clock {
  now(): number;
}

export interface VendingClientOptions {
  /** The vending API base, e.g. `https://func-x.azurewebsites.net/api`. https, or http on loopback only. */
  readonly endpoint: string;
  /** The caller's own credential (e.g. `DefaultAzureCredential`), asked for a token for `scope`. */
  readonly credential?: TokenCredential;
  /**
   * The vending API's scope for `credential`, e.g. `api://<vending API app id>/.default`.
   * Required with `credential` (there is no default: identifier URIs differ per deployment).
   */
  readonly scope?: string;
  /** Alternative to `credential`: returns a caller token for the vending API. Called per request. */
  readonly getCallerToken?: () => Promise<string>;
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
  /** Waits between retries; injectable so tests need not wait for real. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Per-attempt timeout; default 15 000 ms. */
  readonly timeoutMs?: number;
  /** Retries of 429/503 (and one of a network error); default 2. */
  readonly maxRetries?: number;
  /** Total time spent waiting between retries; default 10 s. A longer Retry-After is not waited for. */
  readonly maxRetryWaitSeconds?: number;
}

export interface TokenRequest {
  readonly workspace: string;
  /** Default `aad`. `pat` creates a new Databricks PAT on every call: never cached. */
  readonly mode?: TokenMode;
  /**
   * `oauth` and `pat`: Databricks API scopes (e.g. `['clusters:read', 'sql']`); without them the
   * grant's default applies. A cached token is served only for the same scope set.
   */
  readonly scopes?: readonly string[];
  /** `aad`, `oauth`, `user`: the token returned is valid at least this long; default 300, at most 3000. */
  readonly minValiditySeconds?: number;
  /** `aad`: also return `X-Databricks-Azure-SP-Management-Token` (if granted). */
  readonly managementToken?: boolean;
  /** Recorded in the service's audit record; ≤ 200 printable characters. */
  readonly purpose?: string;
  /** `pat` only: 60 … the grant's maximum. */
  readonly lifetimeSeconds?: number;
}

export type HeadersRequest = Omit<TokenRequest, 'workspace' | 'mode' | 'lifetimeSeconds' | 'scopes'>;

/** The 200 body of `POST /api/token` (DESIGN §2). */
export interface VendedToken {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  /** Epoch seconds. */
  readonly expires_on: number;
  /** Seconds left, as of when this object was handed out (recomputed for a cached token). */
  readonly expires_in: number;
  readonly mode: TokenMode;
  /** `pat` only: the Databricks token id, for `revokeToken`. */
  readonly token_id?: string;
  /** `oauth` (and `pat` under a grant with scopes): the API scopes the token carries. */
  readonly scopes?: readonly string[];
  readonly workspace: { readonly name: string; readonly host: string; readonly resource_id: string };
  readonly service_principal: { readonly name: string; readonly client_id: string };
  /** What to put on Databricks REST calls: `Authorization`, and for `aad` the workspace resource id (and management token). */
  readonly headers: Readonly<Record<string, string>>;
  readonly request_id: string;
}

/** One item of `GET /api/workspaces`. */
export interface WorkspaceEntitlement {
  readonly name: string;
  readonly host: string;
  readonly resource_id: string;
  readonly modes: readonly TokenMode[];
  readonly max_lifetime_seconds: number;
  readonly management_token: boolean;
  /** When the grant names API scopes: what may be asked for, and what is given by default. */
  readonly scopes?: readonly string[];
  readonly default_scopes?: readonly string[];
}
