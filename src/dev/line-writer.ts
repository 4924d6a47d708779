/**
 * Log lines to a stream, gathered and written once per turn of the event loop. A write to a pipe
 * or a file is synchronous in Node on Linux: one per request put a system call (and its share of
 * a busy pipe) on every vend's path, the second-largest CPU cost of a warm vend in the profile.
 * Lines keep their order, nothing is dropped, and what is pending is written before the process
 * exits. `now: true` writes at once (and everything pending before it), for rare lines a reader
 * may wait for, such as a change of readiness.
 */
export interface LineWriter {
  write(line: string, options?: { readonly now?: boolean }): void;
  flush(): void;
}

/** Past this much text pending, it is written without waiting for the end of the turn. */
const MAX_PENDING_CHARS = 256 * 1024;

export function createLineWriter(stream: { write(chunk: string): unknown }): LineWriter {
  let pending: string[] = [];
  let chars = 0;
  let scheduled: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending.length === 0) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    chars = 0;
    stream.write(text);
  };
  process.once('exit', flush);
  return {
    write(line, options) {
      pending.push(line);
      chars += line.length;
      if (options?.now || chars >= MAX_PENDING_CHARS) flush();
      else scheduled ??= setImmediate(flush);
    },
    flush,
  };
}

/**
 * The local host's log: one line per call, `<ISO time> <level> <function>: <message>`. Levels as
 * `@azure/functions` names them (`context.info` logs `information`): trace, debug and information
 * lines (one per decision on the hot path) are gathered; warnings, errors and anything else are
 * written at once, before the answer leaves, as an operator (or a test) reading the log expects.
 */
export function createHostLog(lines: LineWriter): (level: string, fn: string, message: string, now?: boolean) => void {
  return (level, fn, message, now = !GATHERED_LEVELS.has(level.toLowerCase())) =>
    lines.write(`${new Date().toISOString()} ${level.padEnd(11)} ${fn}: ${message}`, { now });
}

const GATHERED_LEVELS: ReadonlySet<string> = new Set(['trace', 'debug', 'information']);
