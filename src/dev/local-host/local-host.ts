import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';
import type { RouteDefinition } from '../../functions/routes';
import { compileRoute } from './match-route';
import { streamRequest } from './stream-request';

export interface LocalHost {
  readonly url: string;
  close(): Promise<void>;
}

export type LogLine = (level: string, functionName: string, message: string) => void;

/**
 * A thin adapter from node:http to the same handlers Azure runs: it routes like the Functions
 * host (`/api/<route>`), builds HttpRequest/InvocationContext, and writes the HttpResponseInit back.
 * The body is not read here: the handler gets it as a stream, as under the Functions host with
 * HTTP streaming on. It decides nothing.
 */
export async function startLocalHost(routes: readonly RouteDefinition[], options: { port: number; log: LogLine }): Promise<LocalHost> {
  // Azure's front end passes headers up to 32 KiB; node's 16 KiB default would answer 431 before
  // the app could refuse an oversized bearer token itself (401 invalid_token).
  const compiled = routes.map((r) => ({ r, match: compileRoute(r.route) }));
  const server = createServer({ maxHeaderSize: 32 * 1024 }, (req, res) => {
    handle(compiled, options.log, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  // The first InvocationContext of a process costs ~10 ms (the library's lazily compiled code):
  // paid here, as the Functions worker pays it before it answers, not by the first request.
  new InvocationContext({ functionName: 'warm-up' });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api`, close: () => close(server) };
}

interface CompiledRoute {
  readonly r: RouteDefinition;
  readonly match: (path: string) => Record<string, string> | undefined;
}

async function handle(routes: readonly CompiledRoute[], log: LogLine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname.startsWith('/api/') ? url.pathname.slice('/api/'.length) : undefined;
  const found = path === undefined ? undefined : firstMatch(routes, path);
  if (!found) return void res.writeHead(404, { 'Content-Length': '0' }).end();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  // What Azure's front end adds: the client address.
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  // Streamed like Azure with HTTP streaming on: the handler reads (and bounds) the body itself.
  const request = streamRequest(req, `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, headers, found.params);
  const name = found.r.name;
  const context = new InvocationContext({ invocationId: randomUUID(), functionName: name, logHandler: (level, ...args) => log(level, name, args.map(String).join(' ')) });
  write(res, await found.r.handler(request, context));
}

function firstMatch(routes: readonly CompiledRoute[], path: string): { r: RouteDefinition; params: Record<string, string> } | undefined {
  for (const { r, match } of routes) {
    const params = match(path);
    if (params) return { r, params };
  }
  return undefined;
}

function write(res: ServerResponse, response: HttpResponseInit | void): void {
  const init = response ?? { status: 204 };
  const body = typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.alloc(0);
  res.writeHead(init.status ?? 200, { ...plainHeaders(init.headers), 'Content-Length': String(body.length) });
  res.end(body);
}

/** The handlers' headers as node:http takes them; a plain record (what the routes give) as it is. */
function plainHeaders(headers: HttpResponseInit['headers']): Record<string, string> {
  if (headers === undefined) return {};
  if (headers instanceof Headers || Array.isArray(headers)) return Object.fromEntries(new Headers(headers));
  return headers;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
