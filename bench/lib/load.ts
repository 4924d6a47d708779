import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { CallerPool } from './caller-pool';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  /**
   * A fixed number of requests rather than a duration: autocannon then waits for every reply,
   * whereas a timed run drops the requests in flight when time is up, which the host still
   * serves and audits — and the audit check must compare exact counts.
   */
  readonly amount: number;
}

export interface LoadFigures {
  readonly connections: number;
  readonly durationSeconds: number;
  readonly requests: number;
  readonly reqPerSec: number;
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  readonly ok2xx: number;
  /** 200 replies whose body holds an access token. */
  readonly withToken: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

const BODY = JSON.stringify({ workspace: 'analytics-sandbox' });

/**
 * POST /api/token with autocannon; each request carries the next caller's token. The duration is
 * taken from the start to the last reply: autocannon's own is rounded up to its 1 s sample tick.
 */
export async function runLoad(pool: CallerPool, options: LoadOptions): Promise<LoadFigures> {
  let withToken = 0;
  let lastReply = 0;
  const started = performance.now();
  const result = await autocannon({
    url: `${options.url}/token`,
    connections: options.connections,
    amount: options.amount,
    timeout: 10,
    requests: [{
      method: 'POST',
      body: BODY,
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${pool.next()}` } }),
      onResponse: (status, body) => {
        lastReply = performance.now();
        if (status === 200 && body.includes('"access_token":"')) withToken += 1;
      },
    }],
  });
  const seconds = (lastReply - started) / 1000;
  const replies = result['2xx'] + result.non2xx;
  return {
    connections: options.connections,
    durationSeconds: Math.round(seconds * 10) / 10,
    requests: replies,
    reqPerSec: Math.round(replies / seconds),
    latencyMs: {
      mean: Math.round(result.latency.mean * 100) / 100,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    ok2xx: result['2xx'],
    withToken,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
