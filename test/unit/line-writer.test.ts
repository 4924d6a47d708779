import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLineWriter } from '../../src/dev/line-writer';

function sink() {
  const writes: string[] = [];
  return { writes, stream: { write: (chunk: string) => writes.push(chunk) } };
}

describe('createLineWriter (the local host log sink)', () => {
  it('gathers the lines of one turn of the event loop into one write, in order', async () => {
    const { writes, stream } = sink();
    const lines = createLineWriter(stream);
    for (let i = 0; i < 100; i += 1) lines.write(`line ${i}`);
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(writes[0]?.split('\n')).toEqual([...Array.from({ length: 100 }, (_, i) => `line ${i}`), '']);
    lines.write('next turn');
    await nextTurn();
    expect(writes).toEqual([expect.any(String), 'next turn\n']);
  });

  it('writes at once when asked, after everything pending, and when too much is pending', async () => {
    const { writes, stream } = sink();
    const lines = createLineWriter(stream);
    lines.write('a');
    lines.write('ready', { now: true });
    expect(writes).toEqual(['a\nready\n']);
    const big = 'x'.repeat(200 * 1024);
    lines.write(big);
    expect(writes).toHaveLength(1);
    lines.write(big);
    expect(writes).toHaveLength(2);
    await nextTurn();
    expect(writes).toHaveLength(2);
  });
});
