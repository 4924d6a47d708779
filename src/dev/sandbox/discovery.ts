/**
 * OpenID Connect discovery documents in Entra ID's shape, for one tenant of the local authority.
 * MSAL reads `token_endpoint`, `authorization_endpoint`, `issuer` and `jwks_uri` (and checks that the
 * issuer's origin is the authority's); the caller verifier reads `issuer` and `jwks_uri`.
 */
export function openIdConfiguration(authorityHost: string, tenantId: string, version: 'v1' | 'v2'): object {
  const base = `${authorityHost}/${tenantId}`;
  const v2 = version === 'v2';
  const oauth = v2 ? `${base}/oauth2/v2.0` : `${base}/oauth2`;
  return {
    token_endpoint: `${oauth}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: v2 ? `${base}/discovery/v2.0/keys` : `${base}/discovery/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: v2 ? `${base}/v2.0` : `https://sts.windows.net/${tenantId}/`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${oauth}/authorize`,
    device_authorization_endpoint: `${oauth}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${oauth}/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles', 'appid', 'azp', 'idtyp', 'ver'],
    tenant_region_scope: 'NA',
    cloud_instance_name: 'microsoftonline.com',
  };
}
