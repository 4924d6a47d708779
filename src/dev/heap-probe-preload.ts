// Debug-only (`npm run load` preloads it with `node --expose-gc --require`; the product never
// loads it): on SIGUSR2 the host collects garbage fully and prints one line with its memory, so a
// load run can tell a leak (live heap growing) from heap growth and GC timing (RSS only).
const collect = (globalThis as { gc?: () => void }).gc;

process.on('SIGUSR2', () => {
  if (!collect) return void console.log('heap-probe unavailable: start node with --expose-gc');
  // Twice: objects freed by the first pass's finalizers go in the second.
  collect();
  collect();
  const m = process.memoryUsage();
  console.log(`heap-probe ${JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss })}`);
});
