import { app } from '@azure/functions';
import { loadConfig } from './core/config';
import { createVendDeps } from './core/vend';
import { ALL_METHODS, makeRoutes } from './functions/routes';

// Entry point the Functions host loads (package.json `main`). The configuration is validated
// here, at load: an invalid document throws with every problem listed and no route is registered.
app.setup({ enableHttpStream: false });

const deps = createVendDeps(loadConfig(process.env));
for (const route of makeRoutes(deps)) {
  app.http(route.name, { route: route.route, methods: ALL_METHODS, authLevel: route.authLevel, handler: route.handler });
}
