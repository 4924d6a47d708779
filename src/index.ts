import { app } from '@azure/functions';
import { broadTokenWarnings, loadConfig } from './core/config';
import { flushTelemetry } from './core/telemetry';
import { createVendDeps, rehearsalTransports } from './core/azure';
import { rehearseVend } from './functions/rehearse';
import { ALL_METHODS, makeRoutes } from './functions/routes';

// Entry point the Functions host loads (package.json `main`). The configuration is validated
// here, at load: an invalid document throws with every problem listed and no route is registered.
// HTTP streaming: the body reaches the handler as a stream, not a buffer the host filled, so the
// 16 KiB limit is enforced while reading (needs Functions runtime 4.28+, Core Tools 4.0.5530+ for
// `func start`, @azure/functions 4.3.0+).
app.setup({ enableHttpStream: true });

const config = loadConfig(process.env);
// Grants that hand out more than their workspace: said once at start, never a reason not to start.
for (const warning of broadTokenWarnings(config)) console.warn(`config warning: ${warning}`);
const deps = createVendDeps(config);
for (const route of makeRoutes(deps)) {
  app.http(route.name, { route: route.route, methods: ALL_METHODS, authLevel: route.authLevel, handler: route.handler });
}
// Cold start: one synthetic vend on stand-ins, in the background, so the first caller's request
// runs compiled code (see prepareRehearsal); nothing outside the process is touched.
void rehearseVend(deps, rehearsalTransports(deps.config, deps.clock));
// Graceful shutdown (scale-in, a new deployment): what the telemetry exporters still hold is sent,
// within a bounded time; a failed export is dropped, never a reason to hang the shutdown.
app.hook.appTerminate(() => flushTelemetry(deps.telemetry));
