// Loads a deployment package the way the Functions Node.js worker does, without the host: the
// worker provides the `@azure/functions-core` module, reads `main` from the package's
// package.json and requires it; `@azure/functions` then registers each route through that module.
// Here that module only records the registrations, and the probe answers requests through the
// registered handlers, printing one JSON line: what was registered and how long it took from
// process start to module loaded and to each answer.
//
//   node scripts/probe-package.mjs <package dir> [request.json]
//   request.json: [{ "route": "health", "method": "GET" }, { "route": "token", "method": "POST",
//                    "headers": {...}, "body": "..." }]   (default: one GET health)
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URLSearchParams } from 'node:url';

const { Headers } = globalThis;

const dir = resolve(process.argv[2] ?? 'deploy');
const requests = process.argv[3] ? JSON.parse(readFileSync(process.argv[3], 'utf8')) : [{ route: 'health', method: 'GET' }];

const registered = new Map();
const core = {
  version: 'probe',
  setProgrammingModel: () => undefined,
  getProgrammingModel: () => undefined,
  registerFunction: (metadata, handler) => {
    registered.set(metadata.name, { metadata, handler });
    return { dispose: () => registered.delete(metadata.name) };
  },
  registerHook: () => ({ dispose: () => undefined }),
  log: () => undefined,
};
const CORE_ID = '\0azure-functions-core-probe';
const shim = new Module(CORE_ID);
shim.exports = core;
shim.loaded = true;
Module._cache[CORE_ID] = shim;
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? CORE_ID : resolveFilename.call(this, request, ...rest);
};

const main = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).main;
const loadStarted = performance.now();
createRequire(join(dir, 'package.json'))(join(dir, main));
const loadedAt = performance.now();

function request(spec) {
  const headers = new Headers(spec.headers ?? {});
  const body = spec.body ?? '';
  return {
    method: spec.method,
    url: `http://127.0.0.1/api/${spec.route}`,
    headers,
    query: new URLSearchParams(),
    params: spec.params ?? {},
    text: () => Promise.resolve(body),
  };
}
const context = (name) => {
  const log = () => undefined;
  return { invocationId: 'probe', functionName: name, log, trace: log, debug: log, info: log, warn: log, error: log };
};

const answers = [];
for (const spec of requests) {
  const entry = registered.get(spec.route);
  if (!entry) throw new Error(`no route registered under the name ${spec.route}`);
  const sent = performance.now();
  const response = await entry.handler(request(spec), context(spec.route));
  const at = performance.now();
  answers.push({ route: spec.route, status: response?.status ?? 200, body: response?.body, ms: at - sent, sinceStartMs: at });
}
const routes = [...registered.values()].map(({ metadata }) => ({
  name: metadata.name,
  route: metadata.bindings?.httpTrigger1?.route ?? Object.values(metadata.bindings ?? {}).find((b) => b.type === 'httpTrigger')?.route,
  authLevel: Object.values(metadata.bindings ?? {}).find((b) => b.type === 'httpTrigger')?.authLevel,
  methods: Object.values(metadata.bindings ?? {}).find((b) => b.type === 'httpTrigger')?.methods,
}));
process.stdout.write(`${JSON.stringify({ loadStartedMs: loadStarted, loadedMs: loadedAt, routes, answers })}\n`);
