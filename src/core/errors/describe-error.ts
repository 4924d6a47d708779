import { isVendingError } from './vending-error';

/**
 * What of an error may reach a log line. Azure SDK errors keep only their name, code and HTTP
 * status: their messages and attached requests can carry vault hosts, secret names, request
 * bodies and tokens. Plain JavaScript errors (our own bugs) keep their message and stack, and
 * our own errors their caller-facing detail.
 */
export interface ErrorSummary {
  readonly name: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  readonly stack?: string;
  readonly cause?: ErrorSummary;
}

export function describeError(err: unknown, depth = 0): ErrorSummary {
  if (!(err instanceof Error)) return { name: typeof err };
  const anyErr = err as Error & { code?: unknown; statusCode?: unknown; errorResponse?: { error?: unknown } };
  const code = typeof anyErr.code === 'string' ? anyErr.code : typeof anyErr.errorResponse?.error === 'string' ? anyErr.errorResponse.error : undefined;
  const summary: { -readonly [K in keyof ErrorSummary]: ErrorSummary[K] } = { name: err.name };
  if (code && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) summary.code = code;
  if (typeof anyErr.statusCode === 'number') summary.statusCode = anyErr.statusCode;
  if (isVendingError(err)) {
    // Our own details are written for callers, so they are safe for logs too.
    summary.message = err.detail;
  } else if (isPlainName(err.name) && isPlainName(err.constructor.name) && isOwnError(err)) {
    summary.message = err.message;
    if (err.stack) summary.stack = err.stack;
  }
  if (err.cause !== undefined && depth < 3) summary.cause = describeError(err.cause, depth + 1);
  return summary;
}

/** Errors whose stack starts in our code, not inside a node_modules package. */
function isOwnError(err: Error): boolean {
  const firstFrame = err.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  return firstFrame === undefined || !firstFrame.includes('node_modules');
}

/** Built-in errors and ConfigError, whose messages are ours or the runtime's, never an SDK's. */
function isPlainName(name: string): boolean {
  return ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'ConfigError'].includes(name);
}
