import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { TableAuditSink } from '../audit/table-audit-sink';
import type { BatchWriter } from '../audit/group-commit';
import { SigningKeyStore, VerifiedTokenCache, issuersFor, verifyCaller } from '../caller';
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

/** The workspace a rehearsal vends from: in its own configuration only, never the service's. */
export const REHEARSAL_WORKSPACE = 'rehearsal';

/**
 * What the rehearsal's minter and audit sink talk through. Default: stand-ins of our own (a
 * credential that hands out a made-up token, rows kept in memory); the wiring gives the Azure
 * SDK's clients with an in-process transport (rehearsal-transports.ts), so their code is warm too.
 */
export interface RehearsalTransports {
  readonly createCredential?: CredentialFactory;
  readonly batchWriter?: BatchWriter;
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
 * and V8 compiles each one then (the bench measured ~15–25 ms of a cold host's first vend on a
 * 2-core machine, gone on its second). A rehearsal is one synthetic `aad` vend through the same
 * code — the route handler, the body's schema, the caller's signature and claims check, the grant,
 * the rate limiter, the fingerprint, the deadlines, group commit, the response — run at start,
 * in the background, on stand-ins that never leave the process: its own signing key, caller,
 * grant and workspace, a secret and an Entra ID token made up here, an audit sink that keeps
 * rows in memory, no telemetry. Nothing of the real service is touched: not its caches, rate
 * limits, health, audit table, logs or metrics, and no request goes out.
 */
export async function prepareRehearsal(real: VendDeps, transports: RehearsalTransports = {}): Promise<Rehearsal> {
  const { config } = real;
  const clock = real.clock;
  const tenantId = config.allowedTenants[0] ?? config.tenantId;
  const appId = randomUUID();
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const jwksUri = 'https://rehearsal.invalid/keys';
  const keys = new SigningKeyStore({
    discoveryUrl: 'https://rehearsal.invalid/.well-known/openid-configuration',
    clock,
    fetch: (input) => Promise.resolve(Response.json((typeof input === 'string' ? input : input instanceof URL ? input.href : input.url) === jwksUri ? jwks : { jwks_uri: jwksUri })),
  });
  const policy = { audiences: config.audiences, allowedTenants: config.allowedTenants, v1IssuerBase: config.v1IssuerBase, v2IssuerHost: config.v2IssuerHost };
  const nowSeconds = Math.floor(clock.now() / 1000);
  const callerToken = await new SignJWT({ tid: tenantId, oid: randomUUID(), appid: appId, idtyp: 'app', roles: [], ver: '2.0' })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(issuersFor(policy, tenantId)[1])
    .setAudience(config.audiences[0] ?? '')
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + 600)
    .sign(privateKey);

  const servicePrincipal: ServicePrincipal = { name: 'rehearsal', clientId: randomUUID(), credential: { kind: 'secret', name: 'rehearsal-sp' }, federationScope: config.databricksScope };
  const workspace: Workspace = {
    name: REHEARSAL_WORKSPACE,
    host: 'https://rehearsal.invalid',
    resourceId: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rehearsal/providers/Microsoft.Databricks/workspaces/rehearsal',
    servicePrincipal,
  };
  const grant = grantSchema.parse({ workspace: REHEARSAL_WORKSPACE, callers: { roles: [], appIds: [appId], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600 });
  // The Entra ID token the stand-in credential hands out: shaped like one (the minter reads its exp), signed by no one.
  const issuedToken = `${encodeSegment({ alg: 'none', typ: 'JWT' })}.${encodeSegment({ aud: config.databricksScope, exp: nowSeconds + 3600 })}.`;
  let rows = 0;
  const writer = transports.batchWriter;
  const countingWriter: BatchWriter = {
    insertBatch: async (entities) => {
      await writer?.insertBatch(entities);
      rows += entities.length;
    },
  };
  const audit = new TableAuditSink(countingWriter, undefined, undefined, { onBackgroundError: () => undefined });
  audit.close();
  const deps = withDeadlines(
    {
      ...real,
      config: { ...config, workspaces: new Map([[REHEARSAL_WORKSPACE, workspace]]) },
      grants: compileGrants([grant], config.tenantId),
      verifyCaller: (authorization) => verifyCaller(authorization, { keys, policy, clock, verified: new VerifiedTokenCache() }),
      limiter: new RateLimiter(config.perCallerPerMinute, clock),
      minter: new EntraTokenMinter({
        secrets: { get: () => Promise.resolve({ value: randomBytes(16).toString('base64url'), version: 'rehearsal', contentType: undefined }) },
        createCredential: transports.createCredential ?? (() => ({ getToken: () => Promise.resolve({ token: issuedToken, expiresOnTimestamp: (nowSeconds + 3600) * 1000 }) })),
        clock,
      }),
      audit,
      auditKey: new FixedAuditKey(randomBytes(32)),
      health: new HealthTracker(),
      telemetry: NO_TELEMETRY,
    },
    real.deadlines ?? deadlinesFor(config.service.requestBudgetMs),
  );
  return { deps, authorization: `Bearer ${callerToken}`, body: JSON.stringify({ workspace: REHEARSAL_WORKSPACE }), auditedRows: () => rows };
}

function encodeSegment(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
