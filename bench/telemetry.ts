import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { Sandbox } from '../src/dev/sandbox';
import { createLocalCa } from '../src/dev/sandbox/ca';
import { spawnHost } from '../src/dev/spawn-host';
import type { SpawnedHost } from '../src/dev/spawn-host';
import type { CallerPool } from './lib/caller-pool';
import { sampleProcess } from './lib/host-process';
import { runLoad } from './lib/load';
import { summarize } from './lib/stats';
import type { Summary } from './lib/stats';

const execFileAsync = promisify(execFile);

/**
 * What telemetry costs (issue 9): the warm vend with telemetry off, on, and on with a tenth of the
 * traces kept, alternating on three hosts in the same run, and the deployment package's module load with it off and on. "On" is
 * the production path in full: the Azure Monitor exporters serialize and send every span and
 * metric, to an ingestion endpoint on 127.0.0.1 (a sink that accepts and counts envelopes).
 */
export interface TelemetryCost {
  readonly exporter: string;
  readonly connections: number;
  readonly runs: readonly Run[];
  readonly summary: { readonly off: Figures; readonly on: Figures; readonly sampled: Figures; readonly cpuMsPerRequestAdded: number; readonly throughputRatio: number; readonly sampledCpuMsPerRequestAdded: number };
  readonly startup: { readonly off: Startup; readonly on: Startup; readonly runs: number };
  readonly bundleBytes: number;
  readonly ingested: Readonly<Record<string, number>>;
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}
interface Run {
  /** `sampled`: on, with OTEL_TRACES_SAMPLER_ARG=0.1 (metrics in full, a tenth of the traces). */
  readonly telemetry: Variant;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The host process's CPU time (user + system) per reply during the run. */
  readonly cpuMsPerRequest: number;
  readonly ok2xx: number;
  readonly requests: number;
}
type Variant = 'off' | 'on' | 'sampled';
interface Figures { readonly reqPerSec: number; readonly cpuMsPerRequest: number; readonly p99Ms: number }
interface Startup { readonly moduleLoadMs: Summary; readonly firstAnswerMs: Summary }

export interface TelemetryPlan { readonly connections: number; readonly rounds: number; readonly targetSeconds: number; readonly startupRuns: number }

/**
 * An Application Insights ingestion endpoint on loopback: answers like the real one, counts
 * envelopes by type, keeps the bodies. HTTPS (the exporter speaks nothing else) with a CA of its
 * own, which `caFile` bundles with the sandbox's for the hosts to trust.
 */
async function startIngestionSink(sandboxCaPem: string): Promise<{ url: string; caFile: string; counts: Map<string, number>; bodies: string[]; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ingestion-'));
  const ca = await createLocalCa(dir);
  const caFile = join(dir, 'trusted.pem');
  await writeFile(caFile, `${sandboxCaPem.trim()}\n${ca.caPem.trim()}\n`);
  const counts = new Map<string, number>();
  const bodies: string[] = [];
  const server: Server = createServer({ key: ca.serverKeyPem, cert: ca.serverCertPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      bodies.push(text);
      const envelopes = JSON.parse(text || '[]') as { name?: string }[];
      for (const e of envelopes) counts.set(e.name ?? '?', (counts.get(e.name ?? '?') ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: envelopes.length, itemsAccepted: envelopes.length, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  return { url: `https://127.0.0.1:${port}/`, caFile, counts, bodies, close };
}

/**
 * The app settings with telemetry on. The exporter's own SDK statistics are off, and its settings
 * poll (a Microsoft host) goes to a closed loopback port through the proxy setting: the bench sends
 * nothing off the machine. Loopback (the sandbox, the sink) bypasses the proxy.
 */
function telemetryEnv(base: Record<string, string>, sinkUrl: string): Record<string, string> {
  return {
    ...base,
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${randomUUID()};IngestionEndpoint=${sinkUrl}`,
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
    APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
    APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost',
  };
}

async function probeStartup(repoRoot: string, env: Record<string, string>): Promise<{ load: number; first: number }> {
  const { stdout } = await execFileAsync(process.execPath, [join(repoRoot, 'scripts', 'probe-package.mjs'), join(repoRoot, 'deploy')], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
  const r = JSON.parse(stdout) as { loadStartedMs: number; loadedMs: number; answers: { status: number; sinceStartMs: number }[] };
  if (r.answers[0]?.status !== 200) throw new Error(`the package answered ${r.answers[0]?.status} to its first request`);
  return { load: r.loadedMs - r.loadStartedMs, first: r.answers[0].sinceStartMs };
}

async function measureRun(host: SpawnedHost, pool: CallerPool, connections: number, amount: number): Promise<Omit<Run, 'telemetry'>> {
  const before = await sampleProcess(host.pid);
  const figures = await runLoad(pool, { url: host.url, connections, amount });
  const after = await sampleProcess(host.pid);
  const cpuMsPerRequest = Math.round((((after.cpuSeconds - before.cpuSeconds) * 1000) / Math.max(1, figures.requests)) * 100) / 100;
  return { reqPerSec: figures.reqPerSec, p50Ms: figures.latencyMs.p50, p99Ms: figures.latencyMs.p99, cpuMsPerRequest, ok2xx: figures.ok2xx, requests: figures.requests };
}

function mean(runs: readonly Run[], which: Variant): Figures {
  const mine = runs.filter((r) => r.telemetry === which);
  const avg = (f: (r: Run) => number): number => mine.reduce((n, r) => n + f(r), 0) / Math.max(1, mine.length);
  return { reqPerSec: Math.round(avg((r) => r.reqPerSec)), cpuMsPerRequest: Math.round(avg((r) => r.cpuMsPerRequest) * 100) / 100, p99Ms: Math.round(avg((r) => r.p99Ms)) };
}

/**
 * Three hosts on one sandbox, with their own audit table (the bench's audit reconciliation is
 * untouched): warmed, then the same number of vends against each, in turn, per round.
 */
export async function measureTelemetry(
  repoRoot: string, sandbox: Sandbox, pool: CallerPool, plan: TelemetryPlan, track: (s: { stop(): Promise<void> } | undefined) => void,
): Promise<TelemetryCost> {
  const sink = await startIngestionSink(sandbox.caPem);
  const base = { ...sandbox.hostEnv(), AUDIT_TABLE_NAME: 'benchtelemetry', NODE_EXTRA_CA_CERTS: sink.caFile };
  const envs = { off: base, on: telemetryEnv(base, sink.url) };
  const hosts: SpawnedHost[] = [];
  const stopAll = { stop: async () => void (await Promise.all(hosts.map((h) => h.stop()))) };
  track(stopAll);
  try {
    const startupSamples = { off: { load: [] as number[], first: [] as number[] }, on: { load: [] as number[], first: [] as number[] } };
    for (let i = 0; i < plan.startupRuns; i += 1) {
      for (const which of ['off', 'on'] as const) {
        const s = await probeStartup(repoRoot, envs[which]);
        startupSamples[which].load.push(s.load);
        startupSamples[which].first.push(s.first);
      }
    }
    const off = await spawnHost(envs.off);
    hosts.push(off);
    const on = await spawnHost(envs.on);
    hosts.push(on);
    const sampled = await spawnHost({ ...envs.on, OTEL_TRACES_SAMPLER_ARG: '0.1' });
    hosts.push(sampled);
    // Warm both: every caller's token checked once (the verified-token cache), the SP's token minted.
    let warm = { reqPerSec: 0 };
    for (const host of [off, on, sampled]) {
      await measureRun(host, pool, plan.connections, pool.size);
      warm = await measureRun(host, pool, plan.connections, pool.size);
    }
    const amount = Math.max(plan.connections * 60, Math.round(warm.reqPerSec * plan.targetSeconds));
    const runs: Run[] = [];
    for (let round = 0; round < plan.rounds; round += 1) {
      for (const [which, host] of [['off', off], ['on', on], ['sampled', sampled]] as const) runs.push({ telemetry: which, ...(await measureRun(host, pool, plan.connections, amount)) });
    }
    // Spans leave in batches every 5 s and metrics once a minute: wait for the spans of the last run.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const summary = { off: mean(runs, 'off'), on: mean(runs, 'on'), sampled: mean(runs, 'sampled') };
    const added = (f: Figures): number => Math.round((f.cpuMsPerRequest - summary.off.cpuMsPerRequest) * 100) / 100;
    const ingested = Object.fromEntries([...sink.counts].sort());
    const all = sink.bodies.join('\n');
    const checks = [
      { name: 'every vend answered 200, telemetry on or off', ok: runs.every((r) => r.ok2xx === r.requests), detail: runs.map((r) => `${r.telemetry} ${r.ok2xx}/${r.requests}`).join(', ') },
      { name: 'the exporters delivered spans to the ingestion endpoint', ok: (sink.counts.get('Microsoft.ApplicationInsights.RemoteDependency') ?? 0) > 0, detail: JSON.stringify(ingested) },
      { name: 'nothing shaped like a JWT or a PAT in what was exported', ok: !/eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.|dapi[0-9a-f]{32}/.test(all), detail: `${sink.bodies.length} exports scanned` },
    ];
    return {
      exporter: 'Azure Monitor exporters (trace and metric) to an ingestion endpoint on 127.0.0.1 (HTTPS, instrumentation key, no Entra ID sign-in)',
      connections: plan.connections,
      runs,
      summary: { ...summary, cpuMsPerRequestAdded: added(summary.on), sampledCpuMsPerRequestAdded: added(summary.sampled), throughputRatio: Math.round((summary.on.reqPerSec / Math.max(1, summary.off.reqPerSec)) * 100) / 100 },
      startup: {
        off: { moduleLoadMs: summarize(startupSamples.off.load), firstAnswerMs: summarize(startupSamples.off.first) },
        on: { moduleLoadMs: summarize(startupSamples.on.load), firstAnswerMs: summarize(startupSamples.on.first) },
        runs: plan.startupRuns,
      },
      bundleBytes: (await stat(join(repoRoot, 'deploy', 'index.js'))).size,
      ingested,
      checks,
    };
  } finally {
    await stopAll.stop();
    track(undefined);
    await sink.close();
  }
}

export function formatTelemetry(t: TelemetryCost): string {
  const row = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [
    '',
    '## Telemetry on and off (issue 9)',
    '',
    `Exporting: ${t.exporter}. ${t.connections} connections, rounds alternating off/on/sampled (on, OTEL_TRACES_SAMPLER_ARG=0.1).`,
    '',
    row(['telemetry', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', '2xx']),
    row(['---', '---:', '---:', '---:', '---:', '---:']),
    ...t.runs.map((r) => row([r.telemetry, r.reqPerSec, r.p50Ms, r.p99Ms, r.cpuMsPerRequest, `${r.ok2xx}/${r.requests}`])),
    '',
    `Mean: off ${t.summary.off.reqPerSec} req/s at ${t.summary.off.cpuMsPerRequest} ms CPU/req; on ${t.summary.on.reqPerSec} req/s at ${t.summary.on.cpuMsPerRequest} ms CPU/req: ` +
      `+${t.summary.cpuMsPerRequestAdded} ms CPU per vend, throughput × ${t.summary.throughputRatio}; with a tenth of the traces kept ${t.summary.sampled.reqPerSec} req/s at ${t.summary.sampled.cpuMsPerRequest} ms (+${t.summary.sampledCpuMsPerRequestAdded}).`,
    `Module load of deploy/ (${(t.bundleBytes / 1024 / 1024).toFixed(2)} MiB index.js), median of ${t.startup.runs}: off ${t.startup.off.moduleLoadMs.median} ms (first answer ${t.startup.off.firstAnswerMs.median} ms), ` +
      `on ${t.startup.on.moduleLoadMs.median} ms (first answer ${t.startup.on.firstAnswerMs.median} ms).`,
    `Envelopes received: ${Object.entries(t.ingested).map(([k, v]) => `${k.replace('Microsoft.ApplicationInsights.', '')} ${v}`).join(', ') || 'none'}.`,
    ...t.checks.map((c) => `- [${c.ok ? 'x' : ' '}] ${c.name} (${c.detail})`),
  ].join('\n');
}

/** bench/results/telemetry.json and .md, beside latest.json and latest.md. */
export async function writeTelemetry(dir: string, t: TelemetryCost): Promise<void> {
  await writeFile(join(dir, 'telemetry.json'), `${JSON.stringify(t, null, 2)}\n`);
  await writeFile(join(dir, 'telemetry.md'), `${formatTelemetry(t).trimStart()}\n`);
}
