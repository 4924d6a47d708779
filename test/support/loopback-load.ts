import { Agent, request } from 'node:http';

export interface Sample {
  readonly status: number;
  readonly ms: number;
  readonly body: string;
}

export interface LoadSpec {
  readonly url: string;
  readonly body: string;
  /** Headers of request number `i` (e.g. a caller token, a client address). */
  headers(i: number): Record<string, string>;
}

/** One POST over a keep-alive agent; latency from send to the last byte of the answer. */
export function post(agent: Agent, spec: LoadSpec, i: number): Promise<Sample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(spec.url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...spec.headers(i) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }));
    req.end(spec.body);
  });
}

/** `connections` closed loops until `stop` resolves, pushing into `samples` as answers come. Bounded by the caller's stop. */
export async function closedLoop(spec: LoadSpec, connections: number, stop: Promise<void>, samples: Sample[] = []): Promise<Sample[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let done = false;
  void stop.then(() => (done = true));
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (!done) samples.push(await post(agent, spec, next++));
    }),
  );
  agent.destroy();
  return samples;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Open loop: `perSecond` requests a second, sent on 10 ms ticks whatever the answers do, until `stop`. */
export async function openLoop(spec: LoadSpec, perSecond: number, stop: Promise<void>): Promise<Sample[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const inFlight: Promise<Sample>[] = [];
  let done = false;
  void stop.then(() => (done = true));
  const started = performance.now();
  let sent = 0;
  while (!done) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    for (; sent < due; sent++) inFlight.push(post(agent, spec, sent));
    await sleep(10);
  }
  const samples = await Promise.all(inFlight);
  agent.destroy();
  return samples;
}
