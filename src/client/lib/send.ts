import { randomUUID } from 'node:crypto';
import type { Clock } from '../types';
import { VendingClientError } from '../vending-client-error';
import { problemFromResponse, suffix } from './problem';

export interface Transport {
  /** Base URL without a trailing slash. */
  readonly endpoint: string;
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxRetryWaitMs: number;
  readonly callerToken: () => Promise<string>;
}

export interface Call {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path below the endpoint, segments already encoded. */
  readonly path: string;
  readonly body?: unknown;
  /** Whether sending it twice is harmless. Creating a PAT is not: a lost answer is not resent. */
  readonly idempotent: boolean;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string;
}

interface NetworkFailure {
  readonly failure: VendingClientError;
  /** False only when the request provably never left this machine. */
  readonly maybeDelivered: boolean;
}

type Attempt = { readonly response: Response } | NetworkFailure;

const NETWORK_RETRY_DELAY_MS = 250;
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/** Errors raised before a request could leave: repeating it cannot do anything twice. */
const UNDELIVERED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Whether an answer may be followed by the same call again. A 429 is refused before anything
 * happens. A 503 of a non-idempotent call (creating a PAT) may come after the PAT was created
 * (e.g. the audit write failed), so it is resent only when the service marked it as refused
 * before minting; otherwise a retry could leave an extra, unreported PAT behind.
 */
function mayResend(call: Call, failure: VendingClientError): boolean {
  if (failure.status === 429) return true;
  return failure.status === 503 && (call.idempotent || failure.refusedBeforeMinting);
}

/**
 * One call with the retry policy: 429 and 503 (see `mayResend`) wait for `Retry-After` (bounded by count and total
 * wait), a network error is retried once when repeating is safe, anything else fails at once.
 * All attempts share one `x-request-id`, so the service's logs and audit rows tie them together.
 */
export async function send(t: Transport, call: Call): Promise<Answer> {
  const requestId = randomUUID();
  let waitedMs = 0;
  let networkRetried = false;
  for (let attempt = 0; ; attempt += 1) {
    const outcome = await attemptOnce(t, call, requestId);
    if ('response' in outcome && outcome.response.ok) return readAnswer(outcome.response, requestId, t.timeoutMs);
    const failure = 'response' in outcome ? await problemFromResponse(outcome.response, requestId, t.clock.now()) : outcome.failure;
    let delayMs: number | undefined;
    if (attempt < t.maxRetries && mayResend(call, failure)) {
      delayMs = (failure.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) * 1000;
    } else if (attempt < t.maxRetries && 'failure' in outcome && failure.code === 'network_error' && !networkRetried && (call.idempotent || !outcome.maybeDelivered)) {
      delayMs = NETWORK_RETRY_DELAY_MS;
      networkRetried = true;
    }
    if (delayMs === undefined || waitedMs + delayMs > t.maxRetryWaitMs) throw failure;
    waitedMs += delayMs;
    await t.sleep(delayMs);
  }
}

async function attemptOnce(t: Transport, call: Call, requestId: string): Promise<Attempt> {
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${await t.callerToken()}`, 'x-request-id': requestId };
  if (call.body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    const response = await t.fetch(`${t.endpoint}${call.path}`, {
      method: call.method,
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      // A redirect would carry the caller token elsewhere; the vending API never sends one.
      redirect: 'manual',
      signal: AbortSignal.timeout(t.timeoutMs),
    });
    return { response };
  } catch (err) {
    return networkFailure(err, requestId, t.timeoutMs);
  }
}

/** Only the error's kind and system code are kept: fetch errors can quote the URL. */
function networkFailure(err: unknown, requestId: string, timeoutMs: number): NetworkFailure {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    const failure = new VendingClientError(`The vending API did not answer within ${timeoutMs} ms ${suffix(undefined, requestId)}.`, { code: 'timeout', requestId });
    return { failure, maybeDelivered: true };
  }
  const systemCode = systemCodeOf(err);
  const failure = new VendingClientError(`Could not reach the vending API${systemCode ? ` (${systemCode})` : ''} ${suffix(undefined, requestId)}.`, { code: 'network_error', requestId });
  return { failure, maybeDelivered: !(systemCode && UNDELIVERED.has(systemCode)) };
}

function systemCodeOf(err: unknown): string | undefined {
  let cause: unknown = err instanceof Error ? err.cause : undefined;
  if (cause instanceof AggregateError) cause = cause.errors[0];
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
}

async function readAnswer(res: Response, requestId: string, timeoutMs: number): Promise<Answer> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw networkFailure(err, requestId, timeoutMs).failure;
  }
  if (res.status === 204 || text === '') return { status: res.status, body: undefined, requestId };
  try {
    return { status: res.status, body: JSON.parse(text) as unknown, requestId };
  } catch {
    throw new VendingClientError(`The vending API answered HTTP ${res.status} with a body that is not JSON ${suffix(res.status, requestId)}.`, { code: 'invalid_response', status: res.status, requestId });
  }
}
