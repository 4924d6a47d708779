import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { BodyTooLargeError, MethodNotAllowedError } from '../core/errors';
import { MAX_BODY_BYTES, readBounded, resolveRequestId, toProblemResponse } from '../core/http';
import type { CoreResponse, IncomingBody, Logger } from '../core/http';
import type { RequestContext } from '../core/vend';

/** Stateless between calls (no `stream` option): one for every request. */
const UTF8 = new TextDecoder();

// The only file that knows both worlds: it turns an @azure/functions request into the core's
// plain inputs and the core's response back. No decision is made here.

/** `context`, when given, brings the host's trace context: the request's span joins the invocation's trace. */
export function requestContext(request: HttpRequest, context?: InvocationContext): RequestContext {
  const traceParent = context?.traceContext?.traceParent;
  return {
    requestId: resolveRequestId(request.headers.get('x-request-id')),
    authorization: request.headers.get('authorization'),
    sourceIp: clientAddress(request.headers.get('x-forwarded-for')),
    userAgent: request.headers.get('user-agent') ?? undefined,
    ...(traceParent ? { traceParent } : {}),
  };
}

/**
 * The caller's address for the audit record. Azure's front end appends the address it saw to
 * X-Forwarded-For (as `ip:port`), after anything the client sent itself: only the last entry is
 * trustworthy.
 */
export function clientAddress(forwardedFor: string | null): string | undefined {
  const last = forwardedFor?.split(',').at(-1)?.trim();
  if (!last) return undefined;
  return /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(last) ? last.slice(0, last.lastIndexOf(':')) : last.replace(/^\[(.*)\](:\d+)?$/, '$1');
}

/**
 * The body as the core reads it: streamed (HTTP streaming is on, see index.ts) and counted
 * chunk by chunk, so at most MAX_BODY_BYTES are ever held, chunked or not, whatever
 * `content-length` said. A declared length over the limit is refused without reading at all.
 */
export function incomingBody(request: HttpRequest): IncomingBody {
  return {
    contentType: request.headers.get('content-type'),
    readBody: async () => {
      const declared = Number(request.headers.get('content-length') ?? '0');
      if (declared > MAX_BODY_BYTES) throw new BodyTooLargeError({ detail: `The body must be at most ${MAX_BODY_BYTES} bytes.` });
      if (!request.body) return '';
      const bytes = await readBounded(request.body.getReader(), MAX_BODY_BYTES);
      return UTF8.decode(bytes);
    },
  };
}

export function toHttpResponse(response: CoreResponse): HttpResponseInit {
  return response.body === undefined
    ? { status: response.status, headers: { ...response.headers } }
    : { status: response.status, headers: { ...response.headers }, body: JSON.stringify(response.body) };
}

/** 405 with Allow, before anything else is looked at. */
export function methodNotAllowed(request: HttpRequest, allowed: readonly string[]): HttpResponseInit | undefined {
  if (allowed.includes(request.method.toUpperCase())) return undefined;
  return toHttpResponse(toProblemResponse(new MethodNotAllowedError(allowed), resolveRequestId(request.headers.get('x-request-id'))));
}

export function contextLogger(context: InvocationContext): Logger {
  const line = (message: string, fields?: Record<string, unknown>): string => (fields ? `${message} ${JSON.stringify(fields)}` : message);
  return {
    info: (message, fields) => context.info(line(message, fields)),
    warn: (message, fields) => context.warn(line(message, fields)),
    error: (message, fields) => context.error(line(message, fields)),
  };
}
