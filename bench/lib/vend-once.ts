import { performance } from 'node:perf_hooks';

export interface VendReply {
  readonly status: number;
  readonly ms: number;
  readonly hasToken: boolean;
}

/** One POST /api/token as a caller would send it, timed from request to the last body byte. */
export async function vendOnce(url: string, callerToken: string): Promise<VendReply> {
  const started = performance.now();
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ workspace: 'analytics-sandbox' }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let hasToken = false;
  try {
    hasToken = typeof (JSON.parse(text) as { access_token?: unknown }).access_token === 'string';
  } catch {
    // not JSON: hasToken stays false and the check reports it
  }
  return { status: res.status, ms, hasToken };
}
