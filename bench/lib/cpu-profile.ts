import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  /** `function (package or file:line)` */
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly sampledMs: number;
  /** Sampled time outside idle: what the process spent on CPU. */
  readonly busyMs: number;
  readonly top: readonly ProfileEntry[];
  /** Busy time per package (node_modules/<pkg>), our own code, or node internals. */
  readonly byOrigin: readonly ProfileEntry[];
}

function origin(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/dist/src/') || url.includes('/deploy/')) return '(our code)';
  if (url.startsWith('node:')) return url;
  if (url === '') return '(node and V8)';
  return url.split('/').slice(-2).join('/');
}

function label(frame: ProfileNode['callFrame']): string {
  const where = origin(frame.url);
  const file = where === '(our code)' ? frame.url.split('/').slice(-2).join('/') : where;
  return `${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`;
}

const rank = (map: Map<string, number>, busy: number, limit: number): ProfileEntry[] =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, selfMs: Math.round(us / 100) / 10, share: Math.round((us / busy) * 1000) / 10 }));

/** Self time per function and per package of a `--cpu-prof` profile, idle time left out. */
export function summarizeProfile(profile: CpuProfile, limit = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let sampled = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    sampled += us;
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    busy += us;
    const name = ['(garbage collector)', '(program)'].includes(frame.functionName) ? frame.functionName : label(frame);
    self.set(name, (self.get(name) ?? 0) + us);
    const where = frame.functionName.startsWith('(') ? frame.functionName : origin(frame.url).startsWith('node:') ? '(node built-ins)' : origin(frame.url);
    byOrigin.set(where, (byOrigin.get(where) ?? 0) + us);
  });
  return { sampledMs: Math.round(sampled / 1000), busyMs: Math.round(busy / 1000), top: rank(self, busy, limit), byOrigin: rank(byOrigin, busy, limit) };
}

/** The one `.cpuprofile` a process wrote into `dir`. */
export async function readProfile(dir: string): Promise<CpuProfile> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in the profile folder, found ${files.length}`);
  return JSON.parse(await readFile(join(dir, files[0] ?? ''), 'utf8')) as CpuProfile;
}
