import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { TableAuditSink, auditTableClient } from '../audit/table-audit-sink';
import { tableAuditReader } from '../audit/table-audit-reader';
import { SigningKeyStore, VerifiedTokenCache, callerPolicyOf, verifyCaller } from '../caller';
import { isMicrosoftAuthority, parseAuditKey } from '../config';
import type { VendingConfig } from '../config';
import { EntraTokenMinter, KeyedTokenCache, createDatabricksTokenExchanger, createPat, listPats, revokePat } from '../mint';
import { AuthorityMetadataCache } from '../mint/authority-metadata-cache';
import { createCredentialFactory } from '../mint/credential-factory';
import { createOnBehalfOfMinter } from '../mint/on-behalf-of';
import { RateLimiter, compileAuditors, compileGrants, systemClock } from '../policy';
import type { Clock } from '../policy';
import { FixedAuditKey, VaultAuditKey } from '../secrets';
import { KeyVaultSecretSource } from '../secrets/key-vault-secret-source';
import type { AuditKeySource, SecretSource } from '../secrets';
import { deadlinesFor } from '../deadline';
import { GrantCache, createGrantAdmin } from '../grants';
import { TableGrantStore } from '../grants/table-grant-store';
import { startTelemetry } from '../telemetry/start-telemetry';
import type { Telemetry } from '../telemetry';
import { HealthTracker } from './health';
import { withDeadlines } from './with-deadlines';
import { tracedExchanger, tracedFetch, tracedOnBehalfOf, tracedPats } from './with-telemetry';
import type { VendDeps } from './vend-deps';

/**
 * The one place that wires config to real clients (octo-sts' main): the app's identity, Key
 * Vault, Entra ID, Table storage. Everything else receives interfaces. Exported by `core/azure`,
 * not by the vend barrel: importing it loads the Azure SDKs.
 */
export interface CreateVendDepsOptions {
  readonly clock?: Clock;
  readonly appCredential?: TokenCredential;
  /** Told when the audit key goes missing or arrives (names only). Default: the console, which the host logs. */
  readonly onAuditKeyChange?: (problem: string | undefined) => void;
  /** Default: Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, none otherwise. */
  readonly telemetry?: Telemetry;
  /** Fetch the caller's signing keys and ready the audit table at start (default on). */
  readonly prefetch?: boolean;
}

export function createVendDeps(config: VendingConfig, options: CreateVendDepsOptions = {}): VendDeps {
  const clock = options.clock ?? systemClock;
  const deadlines = deadlinesFor(config.service.requestBudgetMs);
  const health = new HealthTracker();
  // The app's credential discovers the authority at start (its Key Vault token); every SP's
  // credential and each on-behalf-of credential reuses that answer instead of asking again.
  const authorityMetadata = new AuthorityMetadataCache(clock);
  const appCredential =
    options.appCredential ??
    new DefaultAzureCredential({
      managedIdentityClientId: config.service.azureClientId,
      authorityHost: config.authorityHost,
      disableInstanceDiscovery: !isMicrosoftAuthority(config.authorityHost),
      additionalPolicies: [{ policy: authorityMetadata.policy, position: 'perCall' }],
    });
  const version = packageVersion();
  const telemetry = options.telemetry ?? startTelemetry(config.service.telemetry, { appCredential, version });
  const verified = new VerifiedTokenCache();
  const signingKeysFetch = tracedFetch(telemetry);
  const keys = new SigningKeyStore({
    discoveryUrl: `${config.authorityHost}/${config.tenantId}/v2.0/.well-known/openid-configuration`,
    clock,
    timeoutMs: deadlines.signingKeysMs,
    ...(signingKeysFetch ? { fetch: signingKeysFetch } : {}),
  });
  const policy = callerPolicyOf(config);
  const secrets = new KeyVaultSecretSource({
    vaultUrl: config.keyVaultUrl,
    credential: appCredential,
    challengeVerification: config.service.keyVaultChallengeVerification,
    clock,
    onOutcome: health.report('keyvault'),
    deadlineMs: deadlines.keyVaultMs,
    telemetry,
  });
  const auditKey = health.watchAuditKey(createAuditKey(config, secrets, clock, options.onAuditKeyChange ?? logAuditKeyChange));
  const audit = new TableAuditSink(config.service.audit, appCredential, health.report('audit'), { slotTimeoutMs: deadlines.auditMs, telemetry });
  // Cold start: what no request decides is fetched now, in the background, so the first vend does
  // not wait for it; readiness does not wait either (the caller's signing keys, the audit table).
  // The audit key (read from Key Vault in Azure, see createAuditKey) completes the vault's
  // challenge and fetches the app's vault token the same way. A failure here changes nothing:
  // the request path fetches on demand.
  if (options.prefetch !== false) void Promise.all([keys.prefetch(), audit.prepare()]);
  const grantStore = new TableGrantStore(config.service.grants, appCredential);
  const grantCache = health.watchGrants(
    new GrantCache({
      store: grantStore,
      configGrants: compileGrants(config.grants, config.tenantId),
      homeTenantId: config.tenantId,
      clock,
      refreshMs: config.apiGrants.refreshSeconds * 1000,
      maxStaleMs: config.apiGrants.maxStaleSeconds * 1000,
    }).start(),
  );
  const deps = withDeadlines({
    config,
    // A getter: each request's deps (forRequest) read the set in force when it arrives.
    get grants() {
      return grantCache.current();
    },
    grantAdmin: createGrantAdmin(config, grantStore, grantCache),
    verifyCaller: (authorization) => verifyCaller(authorization, { keys, policy, clock, verified, onCache: (hit) => telemetry.cache('caller_token', hit) }),
    limiter: new RateLimiter(config.perCallerPerMinute, clock),
    minter: new EntraTokenMinter({
      secrets,
      createCredential: createCredentialFactory({ tenantId: config.tenantId, authorityHost: config.authorityHost, appCredential, authorityMetadata }),
      clock,
      onOutcome: health.report('entra'),
      deadlineMs: deadlines.entraMs,
      telemetry,
    }),
    audit,
    auditKey,
    clock,
    health,
    pats: tracedPats({ create: createPat, revoke: revokePat, list: listPats }, telemetry),
    oauth: tracedExchanger(createDatabricksTokenExchanger({ clock: () => clock.now() }), telemetry),
    oauthTokens: new KeyedTokenCache(clock),
    ...(config.onBehalfOfClientId
      ? { onBehalfOf: tracedOnBehalfOf(createOnBehalfOfMinter({ tenantId: config.tenantId, authorityHost: config.authorityHost, apiClientId: config.onBehalfOfClientId, appCredential, clock, authorityMetadata }), telemetry) }
      : {}),
    version,
    auditors: compileAuditors(config.auditors, config.tenantId),
    auditReader: tableAuditReader(auditTableClient(config.service.audit, appCredential)),
    telemetry,
  }, deadlines);
  // A getter, set last (a spread would copy one snapshot): every read sees the set in force now,
  // so an expired or revoked grant drops out without anything else being rebuilt.
  return {
    ...deps,
    get grants() {
      return grantCache.current();
    },
  };
}

/** AUDIT_HMAC_KEY when given; otherwise the vault secret, read now and polled until it exists. */
function createAuditKey(config: VendingConfig, secrets: SecretSource, clock: Clock, onChange: (problem: string | undefined) => void): AuditKeySource {
  const setting = config.service.auditKey;
  if (setting.kind === 'value') return new FixedAuditKey(setting.key);
  return new VaultAuditKey({ secrets, secretName: setting.secretName, unresolvedReference: setting.unresolvedReference, parse: parseAuditKey, clock, onChange }).start();
}

/** The default onAuditKeyChange: a warning while the app cannot vend, a line when it can again. */
export function logAuditKeyChange(problem: string | undefined): void {
  if (problem) console.warn(`dbx-token-vending cannot vend yet: ${problem}`);
  else console.info('dbx-token-vending: audit key read from Key Vault; vending is on');
}

/** This package's version: its package.json is three levels above this module in the sources, four in the build. */
export function packageVersion(from: string = __dirname): string {
  for (const up of ['../../..', '../../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(from, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dbx-token-vending' && pkg.version) return pkg.version;
    } catch {
      // try the next level: the layout differs between the source tree and the build output
    }
  }
  return 'unknown';
}
