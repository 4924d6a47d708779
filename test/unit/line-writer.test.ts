import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InvocationContext } from '@azure/functions';
import { createHostLog, createLineWriter } from '../../src/dev/line-writer';

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

describe('createHostLog (the local host log)', () => {
  it('gathers the lines context.info writes and writes warnings and errors at once', async () => {
    const { writes, stream } = sink();
    const log = createHostLog(createLineWriter(stream));
    // The level names are @azure/functions' own: the handler logs through an InvocationContext.
    const context = new InvocationContext({ functionName: 'token', logHandler: (level, ...args) => log(level, 'token', args.map(String).join(' ')) });
    context.info('issued one');
    context.debug('detail');
    context.trace('more detail');
    expect(writes).toEqual([]);
    context.warn('slow upstream');
    expect(writes).toHaveLength(1);
    expect(writes[0]?.split('\n').map((line) => line.replace(/^\S+ /, ''))).toEqual([
      'information token: issued one',
      'debug       token: detail',
      'trace       token: more detail',
      'warning     token: slow upstream',
      '',
    ]);
    expect(writes[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z information /);
    context.error('failed');
    expect(writes).toHaveLength(2);
    log('information', 'startup', 'vending is on', true);
    expect(writes).toHaveLength(3);
    context.info('later');
    await nextTurn();
    expect(writes).toHaveLength(4);
    expect(writes[3]).toMatch(/ information token: later\n$/);
  });
});
