import { createServer as createHttpServer } from 'node:http';
import type { FaultInjector } from './faults.js';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readBodyWithin } from '../read-body.js';
import { KillSwitch } from './kill-switch.js';
import type { AddressInfo, Socket } from 'node:net';

/** Every sandbox service refuses bodies over this size; no legitimate call comes near it. */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface ServiceRequest {
  readonly method: string;
  /** The URL path, not decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface ServiceResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized as JSON; absent means an empty body. */
  readonly json?: unknown;
}

export type ServiceHandler = (req: ServiceRequest) => ServiceResponse | Promise<ServiceResponse>;

export interface ServiceOptions {
  readonly name: string;
  readonly handler: ServiceHandler;
  readonly tls?: { readonly key: string; readonly cert: string };
  readonly quiet?: boolean;
  /** Tests only: injected delays and error answers. */
  readonly faults?: FaultInjector;
}

/** A loopback server that can be taken "down" (connections cut, new ones refused) and back up. */
export interface Service {
  readonly url: string;
  readonly port: number;
  readonly isDown: boolean;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): ServiceResponse {
  return { status, json: body, headers };
}

function toServiceRequest(req: IncomingMessage, body: Buffer): ServiceRequest {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
}

function writeResponse(res: ServerResponse, out: ServiceResponse): void {
  if (res.headersSent || res.destroyed) return;
  const text = out.json === undefined ? '' : JSON.stringify(out.json);
  const type: Record<string, string> = text ? { 'content-type': 'application/json; charset=utf-8' } : {};
  res.writeHead(out.status, { ...type, 'cache-control': 'no-store', ...out.headers });
  res.end(text);
}

async function respond(opts: ServiceOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let out: ServiceResponse;
  let request: ServiceRequest | undefined;
  try {
    const body = await readBodyWithin(req, BODY_LIMIT_BYTES);
    request = body ? toServiceRequest(req, body) : undefined;
    const injected = request ? await opts.faults?.apply(request) : undefined;
    out = !request ? json(413, { error: 'body_too_large' }) : (injected ?? (await opts.handler(request)));
  } catch (err) {
    // A sandbox bug must answer 500, never take the process (and the test run) down.
    if (!opts.quiet) console.error(`[sandbox:${opts.name}] handler failed:`, err instanceof Error ? err.stack : err);
    out = json(500, { error: 'internal_error' });
  }
  // Only method, path and status: headers and bodies can carry tokens and secrets.
  if (!opts.quiet) console.log(`[sandbox:${opts.name}] ${req.method} ${req.url?.split('?')[0]} -> ${out.status}`);
  writeResponse(res, out);
  if (request) opts.faults?.answered(request);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts an HTTP(S) service on 127.0.0.1 on an ephemeral port. */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const listener = (req: IncomingMessage, res: ServerResponse): void => void respond(opts, req, res);
  const server: Server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, listener)
    : createHttpServer(listener);
  const killSwitch = new KillSwitch(server);
  server.on('connection', (socket: Socket) => void killSwitch.admit(socket));
  server.on('clientError', (_err, socket) => socket.destroy());
  const port = await listen(server);
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    get isDown() { return killSwitch.isDown; },
    setDown: (value: boolean) => killSwitch.setDown(value),
    close: () => killSwitch.close(),
  };
}
