import { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import type { ClientSecretCredentialOptions, TokenCredential } from '@azure/identity';
import { isMicrosoftAuthority } from '../config';
import { UpstreamRejectedError } from '../errors';
import type { ServicePrincipal } from '../config';
import type { SecretValue } from '../secrets';
import type { AuthorityMetadataCache } from './authority-metadata-cache';
import type { TokenEndpointObserver } from './token-endpoint-observer';

export interface CredentialContext {
  readonly tenantId: string;
  readonly authorityHost: string;
  /** The app's own identity; for federated SPs its `api://AzureADTokenExchange` token is the client assertion. */
  readonly appCredential: TokenCredential;
  /** Shared by every credential the app builds: one authority discovery per authority, not per SP. */
  readonly authorityMetadata?: AuthorityMetadataCache;
  /** The transport (default: the SDK's own HTTP client); the cold-start rehearsal's answers in process. */
  readonly httpClient?: ClientSecretCredentialOptions['httpClient'];
}

/** Builds the credential of one SP from its Key Vault material (undefined for federated SPs). */
export type CredentialFactory = (sp: ServicePrincipal, material: SecretValue | undefined, observer?: TokenEndpointObserver) => TokenCredential;

/**
 * What every credential the app builds for Entra ID shares (the SPs' and each on-behalf-of one):
 * the authority, instance discovery only for Microsoft's own hosts, a short retry (our deadline,
 * not the SDK's backoff, bounds the wait), the shared authority discovery and the credential's
 * token endpoint observer.
 */
export function entraCredentialOptions(authorityHost: string, authorityMetadata: AuthorityMetadataCache | undefined, observer: TokenEndpointObserver | undefined, httpClient?: CredentialContext['httpClient']) {
  return {
    authorityHost,
    ...(httpClient ? { httpClient } : {}),
    disableInstanceDiscovery: !isMicrosoftAuthority(authorityHost),
    retryOptions: { maxRetries: 2, retryDelayInMs: 250, maxRetryDelayInMs: 2_000 },
    additionalPolicies: [
      ...(authorityMetadata ? [{ policy: authorityMetadata.policy, position: 'perCall' as const }] : []),
      ...(observer ? [{ policy: observer.policy, position: 'perRetry' as const }] : []),
    ],
  };
}

export function createCredentialFactory(ctx: CredentialContext): CredentialFactory {
  return (sp, material, observer) => {
    const options = entraCredentialOptions(ctx.authorityHost, ctx.authorityMetadata, observer, ctx.httpClient);
    switch (sp.credential.kind) {
      case 'secret':
        return new ClientSecretCredential(ctx.tenantId, sp.clientId, requireMaterial(material), options);
      case 'certificate':
        return new ClientCertificateCredential(ctx.tenantId, sp.clientId, { certificate: requirePem(sp, material) }, { ...options, sendCertificateChain: true });
      case 'federated':
        return new ClientAssertionCredential(ctx.tenantId, sp.clientId, () => exchangeAssertion(ctx.appCredential), options);
    }
  };
}

function requireMaterial(material: SecretValue | undefined): string {
  if (!material) throw new TypeError('credential material is required for secret and certificate service principals');
  return material.value;
}

/** The credential reads PEM only; a PKCS#12 import would otherwise fail later as an opaque parse error. */
function requirePem(sp: ServicePrincipal, material: SecretValue | undefined): string {
  const pem = requireMaterial(material);
  if (material?.contentType === 'application/x-pkcs12' || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UpstreamRejectedError({
      detail: `The certificate of service principal "${sp.name}" is not a PEM with its private key in Key Vault: the operators should import it with content type application/x-pem-file.`,
    });
  }
  return pem;
}

/** The app identity's `api://AzureADTokenExchange` token: the client assertion of federated SPs and of on-behalf-of. */
export async function exchangeAssertion(appCredential: TokenCredential): Promise<string> {
  const token = await appCredential.getToken('api://AzureADTokenExchange/.default');
  if (!token) throw new Error('the app identity returned no token for api://AzureADTokenExchange');
  return token.token;
}
