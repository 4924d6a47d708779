import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../../src/core/config';
import { UpstreamUnavailableError } from '../../src/core/errors';
import { createOnBehalfOfMinter } from '../../src/core/azure';
import { createDatabricksTokenExchanger } from '../../src/core/mint';
import type { CallerIdentity } from '../../src/core/policy';
import { AZURE_DATABRICKS_APP_ID } from '../../src/dev/sandbox';
import { Stack } from './harness';

// The truthful Retry-After rule (README "When an upstream misbehaves") for the oauth and user
// upstreams, called in this process against the sandbox's workspace and Entra ID: after a 429/5xx
// the upstream's own Retry-After, and nothing sent before then; without one, 1 s. A caller that
// waits exactly that long gets its token once the upstream is back.
const TOKEN_ENDPOINT = /\/oauth2\/v2\.0\/token$/;
const EXCHANGE = /\/oidc\/v1\/token$/;
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterAll(async () => {
  await stack?.finish();
});

async function failure(work: Promise<unknown>): Promise<UpstreamUnavailableError> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamUnavailableError);
  return err as UpstreamUnavailableError;
}

const sleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

describe('oauth: the workspace token exchange', () => {
  function workspace(): Workspace {
    const { sandbox } = stack;
    const sp = sandbox.apps.servicePrincipals['etl-sp'];
    return {
      name: 'analytics-scoped', host: sandbox.workspaceUrl, resourceId: sandbox.workspaceResourceId,
      servicePrincipal: { name: 'etl-sp', clientId: sp.clientId, credential: { kind: 'secret', name: sp.secretName }, federationScope: `${AZURE_DATABRICKS_APP_ID}/.default` },
    };
  }
  const subject = (): Promise<string> => stack.sandbox.authority.issueAccessToken(stack.sandbox.apps.servicePrincipals['etl-sp'].clientId, `${AZURE_DATABRICKS_APP_ID}/.default`);

  it('429 with Retry-After: that value, no exchange sent before then, a token after it', async () => {
    const { workspace: dbx } = stack.sandbox;
    const exchanger = createDatabricksTokenExchanger();
    const ws = workspace();
    dbx.faults.set({ path: EXCHANGE, status: 429, headers: { 'retry-after': '2' }, json: { error: 'slow_down' } });
    try {
      dbx.faults.resetRequests();
      expect((await failure(exchanger.exchange(ws, await subject(), ['clusters:read']))).retryAfterSeconds).toBe(2);
      const again = await failure(exchanger.exchange(ws, await subject(), ['clusters:read']));
      expect(again.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(again.retryAfterSeconds).toBeLessThanOrEqual(2);
      expect(dbx.faults.requests(EXCHANGE), 'the workspace asked to wait: nothing sent meanwhile').toBe(1);
    } finally {
      dbx.faults.clear();
    }
    await sleep(2);
    expect((await exchanger.exchange(ws, await subject(), ['clusters:read'])).token).toMatch(/\./);
  });

  it('503 without Retry-After: 1 s, and a token 1 s later', async () => {
    const exchanger = createDatabricksTokenExchanger();
    stack.sandbox.workspace.faults.set({ path: EXCHANGE, status: 503, json: { error: 'temporarily_unavailable' } });
    try {
      expect((await failure(exchanger.exchange(workspace(), await subject(), ['clusters:read']))).retryAfterSeconds).toBe(1);
    } finally {
      stack.sandbox.workspace.faults.clear();
    }
    await sleep(1);
    expect((await exchanger.exchange(workspace(), await subject(), ['clusters:read'])).token).toMatch(/\./);
  });
});

describe('user: the on-behalf-of request to Entra ID', () => {
  function minter() {
    const { sandbox } = stack;
    const appCredential = new ClientSecretCredential(sandbox.tenantId, sandbox.apps.vendingApp.clientId, sandbox.apps.vendingApp.secret, {
      authorityHost: sandbox.authorityHost, disableInstanceDiscovery: true,
    });
    const obo = createOnBehalfOfMinter({ tenantId: sandbox.tenantId, authorityHost: sandbox.authorityHost, apiClientId: sandbox.apps.vendingApp.clientId, appCredential });
    // The app identity's own assertion is fetched (and cached) first: the fault below is for the on-behalf-of request.
    return { obo, warm: () => appCredential.getToken('api://AzureADTokenExchange/.default') };
  }
  async function user(): Promise<{ caller: CallerIdentity; assertion: string }> {
    const assertion = await stack.callerToken({ kind: 'user', audience: stack.sandbox.apps.vendingApp.clientId });
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as { tid: string; oid: string };
    return { caller: { tenantId: claims.tid, objectId: claims.oid, kind: 'user', roles: [] } as unknown as CallerIdentity, assertion };
  }
  const scope = `${AZURE_DATABRICKS_APP_ID}/.default`;

  it('429 with Retry-After: that value, no request sent before then, a token after it', async () => {
    const { authority } = stack.sandbox;
    const { obo, warm } = minter();
    await warm();
    const { caller, assertion } = await user();
    authority.faults.set({ path: TOKEN_ENDPOINT, status: 429, headers: { 'retry-after': '2' }, json: { error: 'temporarily_unavailable' } });
    try {
      authority.faults.resetRequests();
      expect((await failure(obo.getUserToken(caller, assertion, scope, 300))).retryAfterSeconds).toBe(2);
      const sent = authority.faults.requests(TOKEN_ENDPOINT);
      expect(sent).toBeGreaterThan(0);
      expect((await failure(obo.getUserToken(caller, assertion, scope, 300))).retryAfterSeconds).toBeLessThanOrEqual(2);
      expect(authority.faults.requests(TOKEN_ENDPOINT), 'Entra ID asked to wait: nothing sent meanwhile').toBe(sent);
    } finally {
      authority.faults.clear();
    }
    await sleep(2);
    expect((await obo.getUserToken(caller, assertion, scope, 300)).token).toMatch(/\./);
  });

  it('500 without Retry-After: 1 s, and a token 1 s later', async () => {
    const { authority } = stack.sandbox;
    const { obo, warm } = minter();
    await warm();
    const { caller, assertion } = await user();
    authority.faults.set({ path: TOKEN_ENDPOINT, status: 500, json: { error: 'server_error' } });
    try {
      expect((await failure(obo.getUserToken(caller, assertion, scope, 300))).retryAfterSeconds).toBe(1);
    } finally {
      authority.faults.clear();
    }
    await sleep(1);
    expect((await obo.getUserToken(caller, assertion, scope, 300)).token).toMatch(/\./);
  });
});

