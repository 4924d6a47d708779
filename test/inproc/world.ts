import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { TableClient } from '@azure/data-tables';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { ClientSecretCredential } from '@azure/identity';
import { inject } from 'vitest';
import { loadConfig } from '../../src/core/config';
import { createVendDeps } from '../../src/core/azure';
import type { VendDeps } from '../../src/core/vend';
import { makeRoutes } from '../../src/functions/routes';
import type { SandboxInfo } from '../support/sandbox-global-setup';

export interface InprocReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/**
 * The production wiring (`createVendDeps`) and the real routes, called in this process against
 * the sandbox the global setup started: what a spawned host would run, but from the sources, so
 * a mutant in the core is seen.
 */
export function inprocWorld(envOverrides: Record<string, string> = {}) {
  const sb: SandboxInfo = inject('sandbox');
  setDefaultCACertificates([...getCACertificates('default'), sb.caPem]);
  const env = { ...sb.hostEnv, ...envOverrides };
  const appCredential = new ClientSecretCredential(sb.tenantId, sb.apps.vendingApp.clientId, sb.apps.vendingApp.secret, {
    authorityHost: sb.authorityHost, disableInstanceDiscovery: true,
  });
  const deps: VendDeps = createVendDeps(loadConfig(env), { appCredential });
  const handlers = Object.fromEntries(makeRoutes(deps).map((r) => [r.name, r.handler]));
  const logs: string[] = [];
  const context = new InvocationContext({ functionName: 'inproc', logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')) });
  const callerCredential = new ClientSecretCredential(sb.tenantId, sb.apps.callerApp.clientId, sb.apps.callerApp.secret, {
    authorityHost: sb.authorityHost, disableInstanceDiscovery: true,
  });

  async function callerToken(): Promise<string> {
    return (await callerCredential.getToken('api://dbx-token-vending/.default')).token;
  }

  async function call(route: string, init: { method: string; url: string; params?: Record<string, string>; body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<InprocReply> {
    const token = init.token === undefined ? await callerToken() : init.token;
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers };
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    const request = new HttpRequest({
      method: init.method, url: `http://localhost/api/${init.url}`, headers, params: init.params ?? {},
      ...(init.body === undefined ? {} : { body: { string: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } }),
    });
    const handler = handlers[route];
    if (!handler) throw new Error(`no route ${route}`);
    const res = await handler(request, context);
    const text = typeof res.body === 'string' ? res.body : '';
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // kept as text
    }
    return { status: res.status ?? 200, headers: new Headers(res.headers), text, json };
  }

  async function auditRow(requestId: string): Promise<Record<string, unknown> | undefined> {
    const client = TableClient.fromConnectionString(env.AUDIT_CONNECTION_STRING ?? '', env.AUDIT_TABLE_NAME ?? '', { allowInsecureConnection: true });
    for await (const row of client.listEntities({ queryOptions: { filter: `request_id eq '${requestId}'` } })) return row;
    return undefined;
  }

  return { sb, deps, logs, call, callerToken, auditRow, env };
}
