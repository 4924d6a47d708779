// The 503 marker the client's retry rule rests on: `refused_before_minting: true` exactly when
// nothing was minted for the request, so a client resends a PAT request only then, and a 503
// after the PAT was created (audit store down) is answered to one request, never resent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VendingClient, VendingClientError } from '../../src/client';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import { Stack } from './harness';
import type { Reply } from './harness';

const PAT = { workspace: 'analytics-sandbox', mode: 'pat', lifetime_seconds: 600 };
const CREATE = '/api/2.0/token/create';
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
});
afterEach(() => {
  stack.sandbox.vault.setDown(false);
  stack.sandbox.authority.setJwksDown(false);
  stack.sandbox.audit.setDown(false);
});
afterAll(async () => {
  await stack?.finish();
});

function expect503(reply: Reply, code: string, marked: boolean): void {
  expect({ status: reply.status, code: reply.json.code, marked: reply.json.refused_before_minting }).toEqual({ status: 503, code, marked: marked ? true : undefined });
  expect(reply.text).not.toContain('access_token');
}

/** A VendingClient whose requests to the vending API are counted; retries do not wait. */
function countingClient(host: SpawnedHost): { client: VendingClient; sent: () => number } {
  let sent = 0;
  const client = new VendingClient({
    endpoint: host.url,
    getCallerToken: () => stack.callerToken(),
    fetch: (input, init) => {
      sent += 1;
      return fetch(input, init);
    },
    sleep: () => Promise.resolve(),
  });
  return { client, sent: () => sent };
}

async function failure(p: Promise<unknown>): Promise<VendingClientError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(VendingClientError);
  return err as VendingClientError;
}

describe('503 refused before minting', () => {
  it('audit key unavailable: marked, no PAT created, and the client resends (1 + maxRetries requests)', async () => {
    const host = await stack.host({ AUDIT_HMAC_KEY: '' });
    stack.sandbox.workspace.resetCounters();
    expect503(await stack.vend(host, PAT), 'audit_unavailable', true);
    const { client, sent } = countingClient(host);
    const err = await failure(client.getToken({ workspace: 'analytics-sandbox', mode: 'pat', lifetimeSeconds: 600 }));
    expect({ code: err.code, refusedBeforeMinting: err.refusedBeforeMinting, sent: sent() }).toEqual({ code: 'audit_unavailable', refusedBeforeMinting: true, sent: 3 });
    expect(stack.sandbox.workspace.requests(CREATE)).toBe(0);
  });

  it('signing keys, then Key Vault, unavailable on a cold host: marked, no PAT created', async () => {
    const host = await stack.host();
    stack.sandbox.workspace.resetCounters();
    // The caller cannot be authenticated yet.
    stack.sandbox.authority.setJwksDown(true);
    expect503(await stack.vend(host, PAT), 'upstream_unavailable', true);
    stack.sandbox.authority.setJwksDown(false);
    // The SP's secret cannot be read, so its Entra ID token, which creates the PAT, cannot be had.
    stack.sandbox.vault.setDown(true);
    expect503(await stack.vend(host, PAT), 'upstream_unavailable', true);
    expect(stack.sandbox.workspace.requests(CREATE)).toBe(0);
  });
});

describe('503 after the PAT was created', () => {
  it('audit store down: not marked, and the client sends exactly one PAT request', async () => {
    const host = await stack.host();
    // Warm: the SP's secret and Entra ID token are cached, so the next step that can fail is the audit write.
    expect((await stack.vend(host, PAT)).status).toBe(200);
    stack.sandbox.workspace.resetCounters();
    stack.sandbox.audit.setDown(true);
    expect503(await stack.vend(host, PAT), 'audit_unavailable', false);
    expect(stack.sandbox.workspace.requests(CREATE)).toBe(1);

    const { client, sent } = countingClient(host);
    const err = await failure(client.getToken({ workspace: 'analytics-sandbox', mode: 'pat', lifetimeSeconds: 600 }));
    expect({ code: err.code, refusedBeforeMinting: err.refusedBeforeMinting, sent: sent() }).toEqual({ code: 'audit_unavailable', refusedBeforeMinting: false, sent: 1 });
    expect(stack.sandbox.workspace.requests(CREATE)).toBe(2);
  });
});
