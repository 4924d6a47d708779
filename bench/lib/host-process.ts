import { readdir, readFile } from 'node:fs/promises';

export interface ProcessSample {
  /** Resident set size now (VmRSS), MiB. */
  readonly rssMiB: number;
  /** Peak resident set size so far (VmHWM), MiB. */
  readonly peakMiB: number;
  /** User plus system CPU time so far, seconds (clock ticks of 10 ms). */
  readonly cpuSeconds: number;
}

/**
 * Pids of this process's children running the function host, including one still starting (not
 * yet handed back by `spawnHost`) when the deadline hits. /proc/<pid>/task/<tid>/children is not on
 * every kernel, so the stat files are read.
 */
export async function hostChildPids(): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: fields after its closing bracket are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('host.js') || cmdline.includes('baseline-server.js')) pids.add(Number(entry));
    } catch {
      // The process ended between readdir and read: not ours to measure.
    }
  }
  return pids;
}

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** utime and stime: fields 14 and 15 of /proc/<pid>/stat, counted after the command name's closing bracket. */
function cpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
  const kib = (field: string): number => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    if (value === undefined) throw new Error(`${field} missing from the host's status`);
    return Number(value);
  };
  const mib = (n: number): number => Math.round((n / 1024) * 10) / 10;
  return { rssMiB: mib(kib('VmRSS')), peakMiB: mib(kib('VmHWM')), cpuSeconds: cpuSecondsOf(stat) };
}

/**
 * CPU time of every thread of `pid` so far (the main thread, V8's and libuv's), ms, to the
 * nanosecond: the first field of each thread's schedstat. For spans too short for clock ticks.
 */
export async function threadCpuMs(pid: number): Promise<number> {
  let ns = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      ns += Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')).split(' ')[0]);
    } catch {
      // The thread ended between readdir and read: its time is no longer counted anywhere.
    }
  }
  return ns / 1e6;
}
