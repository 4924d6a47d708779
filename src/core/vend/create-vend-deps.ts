import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { TableAuditSink } from '../audit';
import { SigningKeyStore, verifyCaller } from '../caller';
import { isMicrosoftAuthority } from '../config';
import type { VendingConfig } from '../config';
import { EntraTokenMinter, createCredentialFactory, createPat, revokePat } from '../mint';
import { RateLimiter, compileGrants, systemClock } from '../policy';
import type { Clock } from '../policy';
import { KeyVaultSecretSource } from '../secrets';
import { HealthTracker } from './health';
import type { VendDeps } from './vend-deps';

/**
 * The one place that wires config to real clients (octo-sts' main): the app's identity, Key
 * Vault, Entra ID, Table storage. Everything else receives interfaces.
 */
export function createVendDeps(config: VendingConfig, options: { clock?: Clock; appCredential?: TokenCredential } = {}): VendDeps {
  const clock = options.clock ?? systemClock;
  const health = new HealthTracker();
  const appCredential =
    options.appCredential ??
    new DefaultAzureCredential({
      managedIdentityClientId: config.service.azureClientId,
      authorityHost: config.authorityHost,
      disableInstanceDiscovery: !isMicrosoftAuthority(config.authorityHost),
    });
  const keys = new SigningKeyStore({ discoveryUrl: `${config.authorityHost}/${config.tenantId}/v2.0/.well-known/openid-configuration`, clock });
  const onEntra = health.report('entra');
  const policy = { audiences: config.audiences, allowedTenants: config.allowedTenants, v1IssuerBase: config.v1IssuerBase, v2IssuerHost: config.v2IssuerHost };
  const secrets = new KeyVaultSecretSource({
    vaultUrl: config.keyVaultUrl,
    credential: appCredential,
    challengeVerification: config.service.keyVaultChallengeVerification,
    clock,
    onOutcome: health.report('keyvault'),
  });
  return {
    config,
    grants: compileGrants(config.grants),
    verifyCaller: (authorization) => verifyCaller(authorization, { keys, policy, clock }),
    limiter: new RateLimiter(config.perCallerPerMinute, clock),
    minter: new EntraTokenMinter({
      secrets,
      createCredential: createCredentialFactory({ tenantId: config.tenantId, authorityHost: config.authorityHost, appCredential }),
      clock,
      onOutcome: onEntra,
    }),
    audit: new TableAuditSink(config.service.audit, appCredential, health.report('audit')),
    clock,
    health,
    pats: { create: createPat, revoke: revokePat },
    version: packageVersion(),
  };
}

function packageVersion(): string {
  for (const up of ['../../..', '../../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dbx-token-vending' && pkg.version) return pkg.version;
    } catch {
      // try the next level: the layout differs between the source tree and the build output
    }
  }
  return 'unknown';
}
