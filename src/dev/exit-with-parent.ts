/**
 * A dev process never outlives the process that started it, even one killed with SIGKILL (which
 * runs no handler there). Two signals, whichever comes first: our stdin pipe closes (when the
 * parent gave us one and asked, as spawnHost does), or we are re-parented (the parent died).
 */
export function exitWithParent(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500);
  timer.unref();
  if (process.env.VENDING_EXIT_WITH_STDIN === 'on') process.stdin.on('end', stop).on('error', stop).resume();
}

/**
 * Stops on SIGINT/SIGTERM (and with the parent): `close` runs once, and the process exits within
 * `graceMs` even when `close` hangs (a slow upstream must not hold a shutdown).
 */
export function stopOnSignals(close: () => Promise<void>, graceMs = 3_000): void {
  let stopping = false;
  const stop = (code: number) => (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(code), graceMs).unref();
    void close().then(() => process.exit(code), () => process.exit(1));
  };
  process.once('SIGINT', stop(0));
  process.once('SIGTERM', stop(0));
  exitWithParent(stop(0));
}
