import type { IncomingMessage } from 'node:http';
import { HttpRequest } from '@azure/functions';
import type { HttpRequestInit } from '@azure/functions';

/**
 * The HttpRequest a handler gets under the Functions host with HTTP streaming on: the library
 * wraps the live proxied request in a fetch Request (`duplex: 'half'`, no body for GET and
 * HEAD) and hands it over as `nativeRequest`, so nothing is buffered before the handler reads.
 * `nativeRequest` is not in the library's public typings; the local host test fails if the
 * library stops honouring it (a POST body would then arrive empty).
 */
export function streamRequest(req: IncomingMessage, url: string, headers: Record<string, string>, params: Record<string, string>): HttpRequest {
  const method = req.method ?? 'GET';
  const withBody = method !== 'GET' && method !== 'HEAD';
  const nativeRequest = new Request(url, {
    method,
    headers,
    // An IncomingMessage is an async iterable of chunks: read only as the handler reads.
    ...(withBody ? { body: req, duplex: 'half' } : {}),
  });
  return new HttpRequest({ nativeRequest, params } as HttpRequestInit);
}
