import { randomUUID } from 'node:crypto';
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
  readonly servicePrincipals: number;
  readonly grants: number;
  readonly afterStart: ProcessSample;
  readonly afterLoad: ProcessSample;
  readonly load: LoadFigures;
  readonly ok2xx: number;
}

interface ConfigDoc {
  servicePrincipals: Record<string, { clientId: string; secret?: string }>;
  workspaces: Record<string, { servicePrincipal: string }>;
  grants: { workspace: string }[];
}

/**
 * The sandbox configuration plus `extra` workspaces, each with its own service principal and its
 * own grant (the sandbox caller's role), as a large deployment would have them. Only the sandbox's
 * own workspaces are vended for: the others' secrets are never read.
 */
export function scaledConfig(sandbox: Sandbox, extra: number): ConfigDoc {
  const doc = JSON.parse(sandbox.hostEnv().VENDING_CONFIG ?? '{}') as ConfigDoc;
  const template = doc.workspaces['analytics-sandbox'];
  const grant = doc.grants.find((g) => g.workspace === 'analytics-sandbox');
  for (let i = 0; i < extra; i += 1) {
    const n = String(i).padStart(4, '0');
    doc.servicePrincipals[`sp-${n}`] = { clientId: randomUUID(), secret: `sp-${n}-secret` };
    doc.workspaces[`ws-${n}`] = { ...template, servicePrincipal: `sp-${n}` };
    doc.grants.push({ ...grant, workspace: `ws-${n}` });
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
    return { workspaces: Object.keys(doc.workspaces).length, servicePrincipals: Object.keys(doc.servicePrincipals).length, grants: doc.grants.length, afterStart, afterLoad, load, ok2xx: load.ok2xx + (first.status === 200 ? 1 : 0) };
  } finally {
    await host.stop();
    track(undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
