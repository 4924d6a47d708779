import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DATABRICKS_RESOURCE_ID } from '../../src/core/config';
import type { ServicePrincipal } from '../../src/core/config';
import { UpstreamRejectedError } from '../../src/core/errors';
import { createCredentialFactory } from '../../src/core/azure';
import { TokenEndpointObserver } from '../../src/core/mint/token-endpoint-observer';

// The credentials the minter builds for each service principal, against the sandbox's Entra ID.
const sb = inject('sandbox');
const etl = sb.apps.servicePrincipals['etl-sp'];
const SCOPE = `${DATABRICKS_RESOURCE_ID}/.default`;
const sp = (kind: 'secret' | 'certificate' | 'federated', clientId = etl.clientId): ServicePrincipal => ({
  name: 'etl-sp', clientId, credential: kind === 'federated' ? { kind } : { kind, name: 'etl-sp-secret' }, federationScope: 'api://AzureADTokenExchange/.default',
});

const appAsked: string[] = [];
const appCredential: TokenCredential = {
  getToken: (scope): Promise<AccessToken> => {
    appAsked.push(String(scope));
    return Promise.resolve({ token: 'not-a-valid-assertion', expiresOnTimestamp: Date.now() + 3_600_000 });
  },
};
const factory = () => createCredentialFactory({ tenantId: sb.tenantId, authorityHost: sb.authorityHost, appCredential });

beforeAll(() => setDefaultCACertificates([...getCACertificates('default'), sb.caPem]));

describe('createCredentialFactory (the sandbox Entra ID)', () => {
  it('a secret SP gets a token for the Databricks resource, and the observer sees the answer', async () => {
    const observer = new TokenEndpointObserver();
    const token = await factory()(sp('secret'), { value: etl.secret, version: '1', contentType: undefined }, observer).getToken(SCOPE);
    expect(token?.token).toMatch(/^eyJ/);
    expect(observer.throttled()).toBeUndefined();
  });

  it('a secret SP with a wrong secret is refused by Entra ID (the material really is the client secret)', async () => {
    const credential = factory()(sp('secret'), { value: 'wrong-secret', version: '1', contentType: undefined });
    await expect(credential.getToken(SCOPE)).rejects.toThrow();
  });

  it('refuses to build a secret or certificate credential without material', () => {
    expect(() => factory()(sp('secret'), undefined)).toThrow(TypeError);
    expect(() => factory()(sp('certificate'), undefined)).toThrow(TypeError);
  });

  it('a certificate must be a PEM with its private key and certificate, not PKCS#12', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
    const cert = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const refused = (value: string, contentType?: string) => {
      try {
        factory()(sp('certificate'), { value, version: '1', contentType });
        return undefined;
      } catch (err) {
        return err;
      }
    };
    for (const error of [refused(key + cert, 'application/x-pkcs12'), refused(cert), refused(key), refused('MIIKbase64pfx')]) {
      expect(error).toBeInstanceOf(UpstreamRejectedError);
      expect((error as UpstreamRejectedError).detail).toBe('The certificate of service principal "etl-sp" is not a PEM with its private key in Key Vault: the operators should import it with content type application/x-pem-file.');
    }
    expect(refused(key + cert, 'application/x-pem-file')).toBeUndefined();
    expect(refused('-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n' + cert)).toBeUndefined();
  });

  it('a federated SP uses the app identity\'s api://AzureADTokenExchange token as its client assertion', async () => {
    appAsked.length = 0;
    const credential = factory()(sp('federated'), undefined);
    // The sandbox refuses this assertion (it is not a token it issued); what matters is where it came from.
    await expect(credential.getToken(SCOPE)).rejects.toThrow();
    expect(appAsked).toContain('api://AzureADTokenExchange/.default');
  });
});
