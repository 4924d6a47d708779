import { afterEach, describe, expect, it, vi } from 'vitest';
import { BodyTooLargeError } from '../../src/core/errors';
import { readBounded } from '../../src/core/http';
import type { ChunkReader } from '../../src/core/http';
import { loadAnew } from '../support/load-anew';

// readBounded keeps at most `limit` bytes of a body, whatever its sender claims, and refuses the
// rest at once; what follows a refusal is read and dropped in the background only up to a bound,
// and the stream is cancelled when the discard budget ends.

type Step = { done: boolean; value?: Uint8Array } | Error | 'hang';

/** A body stream from a script of chunks; after the script, `after` repeats (or the stream ends). */
function stream(script: Step[], after: Step = { done: true }) {
  let reads = 0;
  const cancel = vi.fn(() => Promise.resolve());
  const reader: ChunkReader = {
    read: () => {
      const step = script[reads++] ?? after;
      if (step === 'hang') return new Promise(() => undefined);
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
    },
    cancel,
  };
  return { reader, cancel, reads: () => reads };
}
const bytes = (n: number, fill = 0x61): { done: false; value: Uint8Array } => ({ done: false, value: new Uint8Array(n).fill(fill) });
const DISCARD = { maxBytes: 250, budgetMs: 1_000 };

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('readBounded', () => {
  it('joins the chunks in order and skips empty reads', async () => {
    const { reader } = stream([bytes(2, 0x61), { done: false }, bytes(3, 0x62), { done: true }]);
    expect((await readBounded(reader, 5, DISCARD)).toString()).toBe('aabbb');
    expect((await readBounded(stream([]).reader, 0, DISCARD)).length).toBe(0);
  });

  it('exactly the limit is kept; one byte more is 413 at once, while the sender may still be sending', async () => {
    expect((await readBounded(stream([bytes(4), bytes(4)]).reader, 8, DISCARD)).length).toBe(8);
    vi.useFakeTimers();
    const s = stream([bytes(4), bytes(5)], 'hang');
    const err = await readBounded(s.reader, 8, DISCARD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyTooLargeError);
    expect(err).toMatchObject({ status: 413, code: 'body_too_large', detail: 'The body must be at most 8 bytes.' });
  });

  it('a body a little over the limit is read to its end and dropped, and the stream is left whole', async () => {
    vi.useFakeTimers();
    const s = stream([bytes(6), bytes(6), bytes(100), { done: false }, bytes(100), { done: true }]);
    await expect(readBounded(s.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.reads()).toBe(6);
    await vi.advanceTimersByTimeAsync(DISCARD.budgetMs * 2);
    expect(s.cancel).not.toHaveBeenCalled();
  });

  it('a bigger one is read no further than the discard bound, and cut when the discard budget ends', async () => {
    vi.useFakeTimers();
    const s = stream([bytes(11)], bytes(100));
    await expect(readBounded(s.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(0);
    // 1 read kept, then 100 + 100 + 100 bytes dropped: past 250, reading stops.
    expect(s.reads()).toBe(4);
    await vi.advanceTimersByTimeAsync(DISCARD.budgetMs - 1);
    expect(s.cancel).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(s.cancel).toHaveBeenCalledOnce();
    expect(s.reads()).toBe(4);
  });

  it('exactly the discard bound is still read on (the bound is what was dropped, not what may be)', async () => {
    vi.useFakeTimers();
    const s = stream([bytes(11), bytes(250)], bytes(1));
    await expect(readBounded(s.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.reads()).toBe(3);
  });

  it('a sender that stalls is cut at the budget; empty chunks count nothing', async () => {
    vi.useFakeTimers();
    const s = stream([bytes(11), { done: false }, { done: false }], 'hang');
    await expect(readBounded(s.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(DISCARD.budgetMs);
    expect(s.reads()).toBe(4);
    expect(s.cancel).toHaveBeenCalledOnce();
  });

  it('a stream that fails while being dropped is not cancelled again, and a failing cancel is swallowed', async () => {
    vi.useFakeTimers();
    const failing = stream([bytes(11), new Error('reset')]);
    await expect(readBounded(failing.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(DISCARD.budgetMs * 2);
    expect(failing.cancel).not.toHaveBeenCalled();

    const s = stream([bytes(11)], 'hang');
    s.cancel.mockImplementation(() => Promise.reject(new Error('already closed')));
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      await expect(readBounded(s.reader, 10, DISCARD)).rejects.toBeInstanceOf(BodyTooLargeError);
      await vi.advanceTimersByTimeAsync(DISCARD.budgetMs);
      expect(s.cancel).toHaveBeenCalledOnce();
      vi.useRealTimers();
      await new Promise((r) => setImmediate(r));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('the discard timer never keeps the process alive', async () => {
    const timers: NodeJS.Timeout[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const t = real(fn, ms);
      timers.push(t);
      return t;
    }) as typeof setTimeout);
    const s = stream([bytes(11)], 'hang');
    await expect(readBounded(s.reader, 10, { maxBytes: 1, budgetMs: 60_000 })).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(timers).toHaveLength(1);
    expect(timers[0]?.hasRef()).toBe(false);
    clearTimeout(timers[0]);
  });

  it('by default, up to 1 MiB of a refused body is dropped, and the stream is cut after 15 s', async () => {
    // The default discard bound is built when the module loads: loaded anew (see loadAnew), with
    // its own error classes.
    const [{ readBounded: fresh }, errors] = await loadAnew(() => Promise.all([import('../../src/core/http/read-bounded.js'), import('../../src/core/errors/index.js')]));
    vi.useFakeTimers();
    const s = stream([bytes(11)], bytes(64 * 1024));
    await expect(fresh(s.reader, 10)).rejects.toBeInstanceOf(errors.BodyTooLargeError);
    await vi.advanceTimersByTimeAsync(0);
    // 1 read kept, then 64 KiB chunks dropped until more than 1 MiB is: 17 of them.
    expect(s.reads()).toBe(1 + 17);
    await vi.advanceTimersByTimeAsync(15_000 - 1);
    expect(s.cancel).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(s.cancel).toHaveBeenCalledOnce();
  });
});
