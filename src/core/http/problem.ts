import { isVendingError } from '../errors';
import type { ProblemCode } from '../errors';

/** Stable identifiers, not pages: `.invalid` says so (RFC 2606). The README lists every code. */
export const PROBLEM_TYPE_BASE = 'https://dbx-token-vending.invalid/errors/';

/** RFC 9457 problem details, as every error response carries them. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ProblemCode;
  readonly request_id: string;
  /** 503 only, and only when true: nothing was minted for this request, so resending it is safe. */
  readonly refused_before_minting?: true;
}

export interface CoreResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON-serializable body; undefined for 204. */
  readonly body?: unknown;
}

/** Headers every response carries: nothing here may be cached by a proxy or a browser. */
export function baseHeaders(requestId: string, contentType = 'application/json'): Record<string, string> {
  return { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Content-Type': contentType, 'x-request-id': requestId };
}

/**
 * The only way an error becomes a response. Known errors keep their code and detail; anything
 * else is a bug: the caller sees a generic 500 and the cause goes to the logs (by the caller of this).
 */
export function toProblemResponse(err: unknown, requestId: string): CoreResponse {
  const problem = isVendingError(err)
    ? { code: err.code, status: err.status, title: err.title, detail: err.detail }
    : { code: 'internal_error' as const, status: 500, title: 'Internal error', detail: 'An unexpected error occurred. Quote the request id when reporting it.' };
  const headers = { ...baseHeaders(requestId, 'application/problem+json') };
  if (isVendingError(err)) {
    Object.assign(headers, err.headers);
    if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
  }
  const marked = isVendingError(err) && err.refusedBeforeMinting ? { refused_before_minting: true as const } : {};
  const body: ProblemBody = { type: `${PROBLEM_TYPE_BASE}${problem.code}`, ...problem, request_id: requestId, ...marked };
  return { status: problem.status, headers, body };
}

export function jsonResponse(status: number, body: unknown, requestId: string): CoreResponse {
  return { status, headers: baseHeaders(requestId), body };
}
