// Builds the deployment package: deploy/ holds exactly what the Functions host loads, and nothing
// else: one bundled file (the app and its runtime dependencies), host.json and a package.json
// whose `main` names that file. azd (azure.yaml `dist: deploy`) and the documented `az` path zip
// this folder; no node_modules, no devDependencies, no sources travel.
//
// `@azure/functions-core` stays external: it is not an npm package but a module the Functions
// Node.js worker provides at run time, through which `@azure/functions` registers the routes.
// `@azure/functions` itself is bundled (it only calls into that module).
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import console from 'node:console';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'deploy');
/** The Flex Consumption package budget this project holds itself to (issue 8). */
const MAX_PACKAGE_BYTES = 5 * 1024 * 1024;

/**
 * zod re-exports every message locale (`z.locales`) from its entry point, about a third of the
 * bundle. The app sets none (its messages are zod's English default, which zod imports on its own),
 * so the locale index is replaced by one that names English only: less code to read and compile at
 * a cold start.
 */
const englishOnlyZodLocales = {
  name: 'english-only-zod-locales',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'index.ts')],
  outfile: join(out, 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  external: ['@azure/functions-core'],
  // Less text to read and parse at a cold start (about a third less); function and class names
  // are kept, so stack traces and error names stay readable.
  minify: true,
  keepNames: true,
  legalComments: 'eof',
  logLevel: 'warning',
  plugins: [englishOnlyZodLocales],
});
await copyFile(join(root, 'host.json'), join(out, 'host.json'));
const deployManifest = {
  name: manifest.name,
  version: manifest.version,
  private: true,
  description: manifest.description,
  license: manifest.license,
  main: 'index.js',
  engines: manifest.engines,
};
await writeFile(join(out, 'package.json'), `${JSON.stringify(deployManifest, null, 2)}\n`);

let total = 0;
for (const file of ['index.js', 'host.json', 'package.json']) total += (await stat(join(out, file))).size;
if (total > MAX_PACKAGE_BYTES) {
  console.error(`deploy/ is ${total} bytes, over the ${MAX_PACKAGE_BYTES}-byte budget`);
  process.exit(1);
}
if (process.argv.includes('--report')) console.log(`deploy/: ${(total / 1024 / 1024).toFixed(2)} MiB (index.js, host.json, package.json)`);
