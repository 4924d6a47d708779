import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { TableAuditSink } from '../audit/table-audit-sink';
import type { BatchWriter } from '../audit/group-commit';
import { SigningKeyStore, VerifiedTokenCache, callerPolicyOf, issuersFor, verifyCaller } from '../caller';
import { grantSchema } from '../config';
import { deadlinesFor } from '../deadline';
import type { ServicePrincipal, Workspace } from '../config';
import { EntraTokenMinter } from '../mint';
import type { CredentialFactory } from '../mint/credential-factory';
import { RateLimiter, compileGrants } from '../policy';
import { FixedAuditKey } from '../secrets';
import { NO_TELEMETRY } from '../telemetry';
import { HealthTracker } from './health';
import { withDeadlines } from './with-deadlines';
import type { VendDeps } from './vend-deps';

/**
 * What the rehearsal's minter and audit sink talk through: the Azure SDK's clients with a
 * transport that answers in process (rehearsal-transports.ts), so their code is warm too.
 */
export interface RehearsalTransports {
  readonly createCredential: CredentialFactory;
  readonly batchWriter: BatchWriter;
}

/** One synthetic vend: what to send, and the dependencies it runs on. */
export interface Rehearsal {
  readonly deps: VendDeps;
  /** `Bearer <a token signed with a key only the rehearsal's verifier trusts>` */
  readonly authorization: string;
  readonly body: string;
  /** Rows the rehearsal's audit sink was handed (never the real table's). */
  readonly auditedRows: () => number;
}

/**
 * Cold start. The first request of a process runs every function on its path for the first time,
 * and V8 compiles each one then (a cold host's first vend in the bench spent 12–30 ms more than a
 * second vend for another cold SP on the same host). A rehearsal is one synthetic `aad` vend
 * through the same code — the route handler, the body's schema, the caller's signature and claims
 * check, the grant, the rate limiter, the SP's credential and its token request (MSAL), the
 * fingerprint, the deadlines, group commit and the audit batch, the response — run at start, in
 * the background, on stand-ins that never leave the process: its own signing key, caller, grant,
 * workspace and secret, the transports' in-process answers, no telemetry. Nothing of the real
 * service is touched: not its caches, rate limits, health, audit table, logs or metrics, and no
 * request goes out.
 */
export async function prepareRehearsal(real: VendDeps, transports: RehearsalTransports): Promise<Rehearsal> {
  const { config, clock } = real;
  // The workspace it vends from, in its own configuration only, never the service's.
  const name = 'rehearsal';
  // The configuration schema requires at least one allowed tenant.
  const [tenantId] = config.allowedTenants as readonly [string, ...string[]];
  const appId = randomUUID();
  const kid = randomUUID();
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256' }] };
  // Addresses that can never resolve (RFC 2606): the key store asks its stand-in fetch, never the network.
  const jwksUri = 'https://rehearsal.invalid/keys';
  const keys = new SigningKeyStore({
    // Stryker disable next-line StringLiteral: the stand-in fetch answers any other address with the discovery document
    discoveryUrl: 'https://rehearsal.invalid/.well-known/openid-configuration',
    clock,
    fetch: (input) => Promise.resolve(Response.json(input === jwksUri ? jwks : { jwks_uri: jwksUri })),
  });
  const policy = callerPolicyOf(config);
  const verified = new VerifiedTokenCache();
  const nowSeconds = Math.floor(clock.now() / 1000);
  const callerToken = await new SignJWT({ tid: tenantId, oid: randomUUID(), appid: appId })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(issuersFor(policy, tenantId)[1])
    .setAudience([...config.audiences])
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + 600)
    .sign(privateKey);

  const servicePrincipal: ServicePrincipal = { name, clientId: randomUUID(), credential: { kind: 'secret', name }, federationScope: config.databricksScope };
  const workspace: Workspace = {
    name,
    host: 'https://rehearsal.invalid',
    resourceId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rehearsal/providers/Microsoft.Databricks/workspaces/rehearsal',
    servicePrincipal,
  };
  const grant = grantSchema.parse({ workspace: name, tenants: [tenantId], callers: { appIds: [appId] }, modes: ['aad'], maxLifetimeSeconds: 3600 });
  let rows = 0;
  const countingWriter: BatchWriter = {
    insertBatch: async (entities) => {
      await transports.batchWriter.insertBatch(entities);
      rows += entities.length;
    },
  };
  const audit = new TableAuditSink(countingWriter, undefined, undefined, { onBackgroundError: () => undefined });
  audit.close();
  const secret = randomBytes(16).toString('base64url');
  const deps = withDeadlines(
    {
      ...real,
      config: { ...config, workspaces: new Map([[name, workspace]]) },
      grants: compileGrants([grant], config.tenantId),
      verifyCaller: (authorization) => verifyCaller(authorization, { keys, policy, clock, verified }),
      limiter: new RateLimiter(config.perCallerPerMinute, clock),
      minter: new EntraTokenMinter({
        // Stryker disable next-line StringLiteral: the version only labels the rehearsal's own cache entry
        secrets: { get: () => Promise.resolve({ value: secret, version: 'rehearsal', contentType: undefined }) },
        createCredential: transports.createCredential,
        clock,
      }),
      audit,
      auditKey: new FixedAuditKey(randomBytes(32)),
      health: new HealthTracker(),
      telemetry: NO_TELEMETRY,
    },
    real.deadlines ?? deadlinesFor(config.service.requestBudgetMs),
  );
  return { deps, authorization: `Bearer ${callerToken}`, body: JSON.stringify({ workspace: name }), auditedRows: () => rows };
}
