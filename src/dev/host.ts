import { ConfigError, broadTokenWarnings, loadConfig } from '../core/config';
import { describeError } from '../core/errors';
import { flushTelemetry } from '../core/telemetry';
import { createVendDeps, rehearsalTransports } from '../core/azure';
import { rehearseVend } from '../functions/rehearse';
import { makeRoutes } from '../functions/routes';
import { stopOnSignals } from './exit-with-parent';
import { createHostLog, createLineWriter } from './line-writer';
import { startLocalHost } from './local-host';

/**
 * `npm run host`: the function app on http://127.0.0.1:${PORT:-7071}/api with only the app
 * settings found in the environment, exactly what Azure would hand it. Nothing is emulated.
 */
async function main(): Promise<void> {
  const lines = createLineWriter(process.stdout);
  const log = createHostLog(lines);
  let deps;
  try {
    // An invalid configuration stops here (78); a missing audit key does not: the host starts,
    // answers 503 and says what it lacks until the key can be read (DESIGN §8).
    const config = loadConfig(process.env);
    for (const warning of broadTokenWarnings(config)) log('warning', 'startup', `config warning: ${warning}`);
    deps = createVendDeps(config, {
      onAuditKeyChange: (problem) => log(problem ? 'warning' : 'information', 'startup', problem ? `cannot vend yet: ${problem}` : 'audit key read from Key Vault; vending is on', true),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const port = Number(process.env.PORT ?? '7071');
  const host = await startLocalHost(makeRoutes(deps), {
    port,
    log,
  });
  // As in Azure (src/index.ts): the first caller meets compiled code. Readiness does not wait.
  void rehearseVend(deps, rehearsalTransports(deps.config, deps.clock));
  // Watching for signals and for the parent's end before saying so: whoever starts this process
  // may act on "listening" at once (even kill its parent, as a test does), and a watcher installed
  // after the parent is gone would take the new parent for the original and never stop.
  stopOnSignals(async () => {
    await host.close();
    await flushTelemetry(deps.telemetry);
  });
  lines.write(`dbx-token-vending listening on ${host.url}`, { now: true });
}

main().catch((err: unknown) => {
  console.error('dbx-token-vending could not start:', JSON.stringify(describeError(err)));
  process.exit(1);
});
