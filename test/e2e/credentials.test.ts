import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_EXCHANGE_AUDIENCE, VAULT_RESOURCE } from '../../src/dev/sandbox';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { claimsOf, pemBodyLines, Stack } from './harness';

const run = promisify(execFile);
let stack: Stack;
let host: SpawnedHost;
let ids: { ml: string; bi: string; bad: string };
let keyPem: string;

/** A throwaway self-signed certificate for the certificate SP, made with openssl at run time. */
async function makeCertificate(): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vend-cert-'));
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=ml-sp']);
    return { cert: await readFile(join(dir, 'c.pem'), 'utf8'), key: await readFile(join(dir, 'k.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  stack = await Stack.start();
  const { sandbox } = stack;
  ids = { ml: randomUUID(), bi: randomUUID(), bad: randomUUID() };
  const { cert, key } = await makeCertificate();
  keyPem = key;
  sandbox.authority.registerClient(ids.ml, { certificates: [cert], displayName: 'ml-sp' });
  sandbox.vault.setSecret('ml-sp-cert', `${key}${cert}`);
  sandbox.authority.registerClient(ids.bad, { certificates: [cert], displayName: 'bad-cert-sp' });
  sandbox.vault.setSecret('bad-sp-cert', cert); // no private key: a wrong import
  // A federated credential on bi-sp trusting the function app's own identity.
  sandbox.authority.registerClient(ids.bi, { federatedSubjects: [sandbox.authority.objectIdOf(sandbox.apps.vendingApp.clientId) ?? ''], displayName: 'bi-sp' });
  for (const id of [ids.ml, ids.bi]) sandbox.workspace.addServicePrincipal(id);
  const config = structuredClone(sandbox.config);
  config.servicePrincipals['ml-sp'] = { clientId: ids.ml, certificate: 'ml-sp-cert' };
  config.servicePrincipals['bi-sp'] = { clientId: ids.bi, federated: true };
  config.servicePrincipals['bad-sp'] = { clientId: ids.bad, certificate: 'bad-sp-cert' };
  const ws = (sp: string) => ({ host: sandbox.workspaceUrl, resourceId: sandbox.workspaceResourceId, servicePrincipal: sp });
  Object.assign(config.workspaces, { 'ml-sandbox': ws('ml-sp'), 'bi-sandbox': ws('bi-sp'), 'bad-sandbox': ws('bad-sp') });
  for (const name of ['ml-sandbox', 'bi-sandbox', 'bad-sandbox']) {
    config.grants.push({ workspace: name, callers: { roles: [], appIds: [sandbox.apps.callerApp.clientId], objectIds: [] }, modes: ['aad'], maxLifetimeSeconds: 3600, managementToken: false });
  }
  host = await stack.host({ VENDING_CONFIG: JSON.stringify(config) });
});
afterAll(async () => {
  // Each base64 line of the key on its own: a log that carries the key JSON-escaped or joined still matches.
  await stack?.finish(pemBodyLines(keyPem));
});

describe('service principal credentials', () => {
  it.each([
    ['certificate (PEM from Key Vault, x5c chain sent)', 'ml-sandbox', () => ids.ml],
    ['federated (the app identity token as client assertion, no secret at all)', 'bi-sandbox', () => ids.bi],
  ])('%s', async (_kind, workspace, clientId) => {
    const reply = await stack.vend(host, { workspace });
    expect(reply.status, reply.text).toBe(200);
    const headers = reply.json.headers as Record<string, string>;
    expect(claimsOf(headers.Authorization?.slice('Bearer '.length) ?? '')).toMatchObject({ appid: clientId(), aud: '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d' });
    expect((await fetch(`${stack.sandbox.workspaceUrl}/api/2.0/preview/scim/v2/Me`, { headers })).status).toBe(200);
  });

  it('a certificate stored without its private key: 502 that says how to import it', async () => {
    const reply = await stack.vend(host, { workspace: 'bad-sandbox' });
    expect({ status: reply.status, code: reply.json.code }).toEqual({ status: 502, code: 'upstream_rejected' });
    expect(reply.json.detail).toContain('application/x-pem-file');
    expect(reply.text).not.toContain('bad-sp-cert');
  });
});

describe('the leak scan sees the credentials the service obtains for itself', () => {
  it('the sandbox recorded its Key Vault token, its token-exchange token and the client assertions it signed', () => {
    const { sandbox } = stack;
    const jwts = sandbox.authority.credentials.all().filter((c) => c.split('.').length === 3 && c.startsWith('eyJ')).map((c) => ({ c, claims: claimsOf(c) }));
    const appId = sandbox.apps.vendingApp.clientId;
    expect(jwts.some(({ claims }) => claims.appid === appId && claims.aud === VAULT_RESOURCE)).toBe(true);
    expect(jwts.some(({ claims }) => claims.appid === appId && claims.aud === TOKEN_EXCHANGE_AUDIENCE)).toBe(true);
    // Certificate SP: an assertion the service signed itself (iss = sub = the SP's client id).
    expect(jwts.some(({ claims }) => claims.iss === ids.ml && claims.sub === ids.ml)).toBe(true);
    expect(stack.secrets()).toEqual(expect.arrayContaining(jwts.map(({ c }) => c)));
  });
});
