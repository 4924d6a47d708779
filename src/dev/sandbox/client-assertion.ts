import { X509Certificate, createHash } from 'node:crypto';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import type { JWTVerifyGetKey, ProtectedHeaderParameters } from 'jose';
import type { RegisteredClient } from './clients.js';

/** Audience of the tokens a workload exchanges for a federated credential, as in Entra ID. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface AssertionContext {
  readonly tokenEndpoint: string;
  readonly issuer: string;
  readonly keySet: JWTVerifyGetKey;
}

const CERT_ALGORITHMS = ['RS256', 'PS256'];
/** Entra ID allows five minutes of clock skew on assertions (MSAL sets `nbf` a second after `iat`). */
const CLOCK_TOLERANCE_S = 300;

function thumbprint(pem: string, hash: 'sha1' | 'sha256'): string {
  return createHash(hash).update(new X509Certificate(pem).raw).digest('base64url');
}

/** The registered certificates the assertion's header points at (all of them when it names none). */
function candidateCertificates(client: RegisteredClient, header: ProtectedHeaderParameters): readonly string[] {
  const sha256 = header['x5t#S256'];
  if (typeof sha256 === 'string') return client.certificates.filter((pem) => thumbprint(pem, 'sha256') === sha256);
  if (typeof header.x5t === 'string') return client.certificates.filter((pem) => thumbprint(pem, 'sha1') === header.x5t);
  return client.certificates;
}

async function verifyWithCertificates(assertion: string, client: RegisteredClient, ctx: AssertionContext): Promise<boolean> {
  const header = decodeProtectedHeader(assertion);
  if (typeof header.alg !== 'string' || !CERT_ALGORITHMS.includes(header.alg)) return false;
  for (const pem of candidateCertificates(client, header)) {
    const key = await importX509(pem, header.alg);
    const ok = await jwtVerify(assertion, key, {
      algorithms: CERT_ALGORITHMS,
      audience: [ctx.tokenEndpoint, ctx.issuer],
      issuer: client.clientId,
      subject: client.clientId,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_S,
    }).then(() => true, () => false);
    if (ok) return true;
  }
  return false;
}

async function verifyFederated(assertion: string, client: RegisteredClient, ctx: AssertionContext): Promise<boolean> {
  const result = await jwtVerify(assertion, ctx.keySet, {
    algorithms: ['RS256'],
    audience: TOKEN_EXCHANGE_AUDIENCE,
    issuer: ctx.issuer,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: CLOCK_TOLERANCE_S,
  }).catch(() => undefined);
  return !!result && client.federatedSubjects.includes(result.payload.sub ?? '');
}

/** Returns undefined when the assertion authenticates the client, else a reason safe to show. */
export async function checkClientAssertion(
  assertion: string,
  client: RegisteredClient,
  ctx: AssertionContext,
): Promise<string | undefined> {
  try {
    if (client.certificates.length > 0 && (await verifyWithCertificates(assertion, client, ctx))) return undefined;
    if (client.federatedSubjects.length > 0 && (await verifyFederated(assertion, client, ctx))) return undefined;
    return 'no registered certificate or federated credential accepts it';
  } catch {
    return 'malformed assertion';
  }
}
