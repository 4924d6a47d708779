import type { LocalAuthority } from './authority.js';
import type { CallerTokenOptions } from './caller-token.js';
import type { SandboxApps, VendingConfigDocument } from './config.js';
import type { LocalVault } from './vault.js';
import type { LocalWorkspace } from './workspace.js';

export interface SandboxOptions {
  /** Lifetime of the access tokens the local authority issues (default 3599, as Entra ID). */
  tokenLifetimeSeconds?: number;
  /** Default true: nothing is logged. Even when false, no token or secret is ever logged. */
  quiet?: boolean;
  /**
   * Azurite over HTTPS with OAuth (`--oauth basic`) and a production-style endpoint
   * (`audit.endpoint`), for identity-based clients as in Azure. Default: plain HTTP, shared key.
   */
  productionStorage?: boolean;
}

export interface SandboxAudit {
  /** azurite behind a proxy; the account key in it is azurite's public development key. */
  readonly connectionString: string;
  /** With `productionStorage`: `https://devstoreaccount1.table.localhost:<port>` (identity auth); otherwise undefined. */
  readonly endpoint: string | undefined;
  readonly tableName: string;
  /** Cuts and refuses connections to the table service; the rows survive. */
  setDown(down: boolean): void;
}

/** Everything `npm start` and the integration tests run against: loopback servers, no Azure. */
export interface Sandbox {
  readonly tenantId: string;
  /** `https://127.0.0.1:<port>`, no trailing slash. */
  readonly authorityHost: string;
  readonly vaultUrl: string;
  readonly workspaceUrl: string;
  readonly workspaceResourceId: string;
  /** The private CA every sandbox HTTPS server chains to; the file is removed by `stop()`. */
  readonly caPem: string;
  readonly caFile: string;
  readonly audit: SandboxAudit & {
    /** Holds every batch write this long before it reaches the store (0: off); the rows still land. */
    setSlow(delayMs: number): void;
    /** The azurite process (the bench samples the store's CPU time per request). */
    readonly storePid: number;
    /** Batch transactions since the last reset: arrival at the relay and when the store's answer was written back (performance.now()). */
    batchTimeline(): Array<{ readonly at: number; readonly answeredAt: number }>;
    resetBatchTimeline(): void;
  };
  /** The grants table (same azurite, its own proxy and outage switch). */
  readonly grants: SandboxAudit;
  readonly apps: SandboxApps;
  /** The VENDING_CONFIG document for this sandbox. */
  readonly config: VendingConfigDocument;
  /** The AUDIT_HMAC_KEY of `hostEnv()` (32 random bytes, base64). */
  readonly auditHmacKey: string;
  /** The app settings for a function host running against this sandbox. */
  hostEnv(): Record<string, string>;
  /** A caller token (default: the caller app, app-only, role Vend.AnalyticsSandbox), signed in-process. */
  issueCallerToken(opts?: CallerTokenOptions): Promise<string>;
  readonly authority: LocalAuthority;
  readonly vault: LocalVault;
  readonly workspace: LocalWorkspace;
  /** Another local workspace (own URL, own OAuth issuer, no members), stopped with the sandbox. */
  startExtraWorkspace(name: string): Promise<LocalWorkspace>;
  /** Stops every server and child process, removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}
