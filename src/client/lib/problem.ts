import { VendingClientError } from '../vending-client-error';
import { cleanRequestId, redactDetail } from './redact';
import { parseRetryAfter } from './retry-after';

const CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Codes for which the service may mark a 503 as refused before anything was minted. */
const MARKABLE = new Set(['audit_unavailable', 'upstream_unavailable']);

/**
 * A non-2xx answer as a `VendingClientError`. The code comes from the problem+json body; an
 * answer without one (a gateway page, a redirect, an empty 500) is `invalid_response` with its
 * status kept, so callers can still tell "refused" from "unavailable".
 */
export async function problemFromResponse(res: Response, sentRequestId: string, nowMs: number): Promise<VendingClientError> {
  const body = await readProblemBody(res);
  const requestId = cleanRequestId(body?.request_id) ?? cleanRequestId(res.headers.get('x-request-id')) ?? sentRequestId;
  const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'), nowMs);
  const fields = { status: res.status, requestId, retryAfterSeconds };
  const code = typeof body?.code === 'string' && CODE.test(body.code) ? body.code : undefined;
  if (!code) {
    return new VendingClientError(`The vending API answered HTTP ${res.status} without a problem body ${suffix(res.status, requestId)}.`, { code: 'invalid_response', ...fields });
  }
  const text = typeof body?.detail === 'string' && body.detail ? body.detail : typeof body?.title === 'string' ? body.title : code;
  const refusedBeforeMinting = res.status === 503 && MARKABLE.has(code) && body?.refused_before_minting === true;
  return new VendingClientError(`${code}: ${redactDetail(text)} ${suffix(res.status, requestId)}`, { code, ...fields, refusedBeforeMinting });
}

export function suffix(status: number | undefined, requestId: string): string {
  return status === undefined ? `(request id ${requestId})` : `(HTTP ${status}, request id ${requestId})`;
}

async function readProblemBody(res: Response): Promise<Record<string, unknown> | undefined> {
  const type = res.headers.get('content-type') ?? '';
  if (!/json/i.test(type)) {
    await res.body?.cancel();
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(await res.text());
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
