import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sandbox } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnedHost } from '../../src/dev/spawn-host';
import type { CallerPool } from './caller-pool';
import { sampleProcess } from './host-process';
import type { ProcessSample } from './host-process';
import { runLoad } from './load';
import type { LoadFigures } from './load';
import { vendOnce } from './vend-once';

export interface ScaleFigures {
  readonly workspaces: number;
  readonly grants: number;
  readonly afterStart: ProcessSample;
  readonly afterLoad: ProcessSample;
  readonly load: LoadFigures;
  readonly ok2xx: number;
}

interface ConfigDoc {
  workspaces: Record<string, unknown>;
  grants: { workspace: string }[];
}

/** The sandbox configuration plus `extra` workspaces, each with its own grant (same SP, same callers' role). */
export function scaledConfig(sandbox: Sandbox, extra: number): ConfigDoc {
  const doc = JSON.parse(sandbox.hostEnv().VENDING_CONFIG ?? '{}') as ConfigDoc;
  const template = doc.workspaces['analytics-sandbox'];
  const grant = doc.grants.find((g) => g.workspace === 'analytics-sandbox');
  for (let i = 0; i < extra; i += 1) {
    const name = `ws-${String(i).padStart(4, '0')}`;
    doc.workspaces[name] = template;
    doc.grants.push({ ...grant, workspace: name });
  }
  return doc;
}

/** One host with 1,000 more workspaces and grants: its memory after start and after a warm load. */
export async function measureScaledConfig(sandbox: Sandbox, pool: CallerPool, plan: { extra: number; connections: number; requests: number }, track: (h: SpawnedHost | undefined) => void): Promise<ScaleFigures> {
  const doc = scaledConfig(sandbox, plan.extra);
  // Too large for one environment variable (Linux caps each at 128 KiB): VENDING_CONFIG_FILE.
  const dir = await mkdtemp(join(tmpdir(), 'vend-scale-'));
  const file = join(dir, 'vending.config.json');
  await writeFile(file, JSON.stringify(doc));
  const { VENDING_CONFIG: _inline, ...env } = sandbox.hostEnv();
  const host = await spawnHost({ ...env, VENDING_CONFIG_FILE: file });
  track(host);
  try {
    const afterStart = await sampleProcess(host.pid);
    const first = await vendOnce(host.url, pool.next());
    const load = await runLoad(pool, { url: host.url, connections: plan.connections, amount: plan.requests });
    const afterLoad = await sampleProcess(host.pid);
    return { workspaces: Object.keys(doc.workspaces).length, grants: doc.grants.length, afterStart, afterLoad, load, ok2xx: load.ok2xx + (first.status === 200 ? 1 : 0) };
  } finally {
    await host.stop();
    track(undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
