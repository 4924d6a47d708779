import { createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { claimsOf, stackWithHost } from './harness';

const env = stackWithHost();
const TOKEN_ENDPOINT = /\/oauth2\/v2\.0\/token$/;

type Vector = readonly [name: string, authorization: () => Promise<string | null>];

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Every vector: an Authorization header an attacker could send. None may reach Key Vault or the token endpoint. */
function vectors(): Vector[] {
  const { sandbox } = env.stack;
  const bearer = (token: string): string => `Bearer ${token}`;
  const sign = async (opts: Parameters<typeof sandbox.issueCallerToken>[0]): Promise<string> => bearer(await env.stack.callerToken(opts));
  const foreign = generateKeyPair('RS256', { extractable: true });
  /** A valid token's claims, re-signed by a foreign key with extra header fields. */
  const forged = async (header: Record<string, unknown>): Promise<string> => {
    const claims = claimsOf(await env.stack.callerToken());
    const { privateKey } = await foreign;
    return bearer(await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: sandbox.authority.signingKid, ...header }).sign(privateKey));
  };
  const valid = async (): Promise<string> => env.stack.callerToken();
  return [
    ['alg none', async () => bearer(new UnsecuredJWT(claimsOf(await valid())).encode())],
    ['RS256→HS256 with the public key as secret', async () => {
      const jwk = sandbox.authority.jwks().keys.find((k) => k.kid === sandbox.authority.signingKid) as JWK;
      const pem = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return sign({ alg: 'HS256', key: new TextEncoder().encode(String(pem)) });
    }],
    ['unknown kid', async () => sign({ key: (await foreign).privateKey, kid: 'not-a-known-kid' })],
    ['signature stripped', async () => bearer(`${(await valid()).split('.').slice(0, 2).join('.')}.`)],
    ['signed by another key under a known kid', async () => sign({ key: (await foreign).privateKey })],
    ['embedded jwk', async () => forged({ jwk: await exportJWK((await foreign).publicKey) })],
    ['jku pointing elsewhere', async () => forged({ jku: 'https://attacker.example/keys' })],
    ['x5u pointing elsewhere', async () => forged({ x5u: 'https://attacker.example/cert.pem' })],
    ['kid injection', async () => forged({ kid: "../../../dev/null' OR '1'='1" })],
    ['expired', async () => sign({ expiresInSeconds: -600 })],
    ['nbf in the future', async () => sign({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } })],
    ['missing exp', async () => sign({ omit: ['exp'] })],
    ['missing iat', async () => sign({ omit: ['iat'] })],
    ['missing tid', async () => sign({ omit: ['tid'] })],
    ['missing oid', async () => sign({ omit: ['oid'] })],
    ['wrong aud', async () => sign({ audience: 'api://some-other-api' })],
    ['a valid token for another resource (AzureDatabricks)', async () => bearer(await sandbox.authority.issueAccessToken(sandbox.apps.callerApp.clientId, '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default'))],
    ['wrong iss', async () => sign({ issuer: 'https://login.attacker.example/tenant/v2.0' })],
    ['foreign tid', async () => sign({ tenantId: '11111111-2222-3333-4444-555555555555' })],
    ['v1 and v2 issuer mixed up', async () => sign({ issuer: `https://sts.windows.net/${sandbox.tenantId}/v2.0` })],
    ['over 16 KiB', async () => sign({ claims: { pad: 'x'.repeat(17 * 1024) } })],
    ['garbage JSON header', async () => bearer(`${b64('{"alg":"RS256",')}.${(await valid()).split('.').slice(1).join('.')}`)],
    ['duplicate-key JSON header', async () => bearer(`${b64('{"alg":"none","alg":"RS256","kid":"x"}')}.${(await valid()).split('.').slice(1).join('.')}`)],
    ['non-base64url segments', async () => bearer((await valid()).replace(/-/g, '+').replace(/_/g, '/') + '+/=')],
    ['Bearer typo', async () => `Bearr ${await valid()}`],
    ['no space after Bearer', async () => `Bearer${await valid()}`],
    ['two tokens in one header', async () => `Bearer ${await valid()}, Bearer ${await valid()}`],
    ['two tokens separated by a space', async () => `Bearer ${await valid()} ${await valid()}`],
    ['ES256 under the known kid', async () => sign({ alg: 'ES256', key: (await generateKeyPair('ES256')).privateKey })],
    ['no Authorization header', () => Promise.resolve(null)],
  ];
}

const ROUTES = [
  { name: 'POST /token', path: '/token', method: 'POST', body: { workspace: 'analytics-sandbox' } },
  { name: 'DELETE /token/{ws}/{id}', path: '/token/analytics-sandbox/1234567890abcdef', method: 'DELETE', body: undefined },
  { name: 'GET /workspaces', path: '/workspaces', method: 'GET', body: undefined },
] as const;

describe('JWT attack vectors', () => {
  it('has at least 20 vectors', () => {
    expect(vectors().length).toBeGreaterThanOrEqual(20);
  });

  for (const route of ROUTES) {
    it(`${route.name}: every vector → 401 invalid_token with WWW-Authenticate, no call to Key Vault or the token endpoint`, async () => {
      const { sandbox } = env.stack;
      const outcomes: Record<string, unknown> = {};
      sandbox.vault.faults.resetRequests();
      sandbox.authority.faults.resetRequests();
      for (const [name, make] of vectors()) {
        const authorization = await make();
        const reply = await env.stack.call(env.host, route.path, {
          method: route.method, token: null, body: route.body, headers: authorization === null ? {} : { Authorization: authorization },
        });
        outcomes[name] = [reply.status, reply.json.code, /^Bearer error="invalid_token"/.test(reply.headers.get('www-authenticate') ?? '')];
      }
      const expected = Object.fromEntries(Object.keys(outcomes).map((name) => [name, [401, 'invalid_token', true]]));
      expect(outcomes).toEqual(expected);
      expect(sandbox.vault.faults.requests()).toBe(0);
      expect(sandbox.authority.faults.requests(TOKEN_ENDPOINT)).toBe(0);
    });
  }
});
