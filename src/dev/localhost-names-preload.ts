// Preloaded (`node --require`) into a function host that reaches sandbox services by their
// production-style `*.localhost` names; see sandbox/localhost-names.ts. Tests only.
import { resolveLocalhostNames } from './sandbox/localhost-names.js';

resolveLocalhostNames();
