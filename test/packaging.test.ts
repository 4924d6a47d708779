// The packed tarball as a caller installs it: `npm pack`, then `npm install -g` into a temp
// prefix with an empty cache and --offline, so the install provably needs no registry. The
// installed `dbx-vend` runs on this Node.js alone; `dbx-token-vending/client` loads nothing
// of the function app and its types compile in a consumer project.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
let dir: string;
let tarball: string;
/** This Node.js first on PATH: the bin's `#!/usr/bin/env node` must find it, as on a caller's machine. */
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
const npmEnv = { ...process.env, PATH, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', args, { cwd, env: npmEnv, timeout: 120_000 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dbx-vend-pack-'));
  const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', dir], ROOT)).stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = join(dir, packed[0].filename);
  await writeFile(join(dir, 'files.json'), JSON.stringify(packed[0].files.map((f) => f.path)));
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm pack → npm install -g', () => {
  it('packs the client only: no function code, no sources but its README', async () => {
    const files = JSON.parse(await readFile(join(dir, 'files.json'), 'utf8')) as string[];
    expect(files).toContain('dist/src/client/cli.js');
    expect(files).toContain('dist/src/client/index.d.ts');
    expect(files).toContain('src/client/README.md');
    // npm always packs README, package.json and `main` (the function's entry, not exported, not loadable without its dependencies).
    expect(files.filter((f) => !f.startsWith('dist/src/client/') && f !== 'src/client/README.md').sort()).toEqual(['README.md', 'dist/src/index.js', 'package.json']);
  });

  it('installs offline from an empty cache and gives a working dbx-vend', async () => {
    const prefix = join(dir, 'prefix');
    await npm(['install', '-g', tarball, '--prefix', prefix, '--cache', join(dir, 'cache-g'), '--offline'], dir);
    const installed = join(prefix, 'lib', 'node_modules', 'dbx-token-vending');
    // No runtime dependency came along: the function app's packages are optional and were left out.
    await expect(readdir(join(installed, 'node_modules'))).rejects.toMatchObject({ code: 'ENOENT' });
    const bin = join(prefix, 'bin', 'dbx-vend');
    const help = await run(bin, ['--help'], { env: { PATH } });
    expect(help.stdout).toContain('dbx-vend metadata-server --workspace NAME');
    // A real call: nothing listens on port 9 of loopback, so it fails as unavailable (4) after one retry.
    const refused = await run(bin, ['workspaces', '--endpoint', 'http://127.0.0.1:9/api'], { env: { PATH, DBX_VEND_CALLER_TOKEN: 'x' } }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 4, stdout: '' });
    expect(refused.stderr).toContain('network_error');
    // Without a caller token, the vending API's scope is needed (there is no default): a usage error.
    const noScope = await run(bin, ['workspaces', '--endpoint', 'http://127.0.0.1:9/api'], { env: { PATH } }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(noScope).toMatchObject({ code: 2, stdout: '' });
    expect(noScope.stderr).toContain('--scope (or DBX_VEND_SCOPE) is required');
    // With it but without @azure/identity: a clear refusal, not a crash.
    const noIdentity = await run(bin, ['workspaces', '--endpoint', 'http://127.0.0.1:9/api'], { env: { PATH, DBX_VEND_SCOPE: 'api://00000000-0000-4000-8000-000000000001/.default' } }).catch((e: { code: number; stderr: string }) => e);
    expect(noIdentity).toMatchObject({ code: 3 });
    expect(noIdentity.stderr).toContain('credential_unavailable: @azure/identity is not installed');
  }, 120_000);

  it('dbx-token-vending/client loads only the client, with types a consumer compiles against', async () => {
    const consumer = join(dir, 'consumer');
    await mkdir(consumer);
    await writeFile(join(consumer, 'package.json'), '{"name":"consumer","private":true}');
    await npm(['install', tarball, '--cache', join(dir, 'cache-l'), '--offline'], consumer);
    const probe = [
      "const c = require('dbx-token-vending/client');",
      "const loaded = Object.keys(require.cache).filter((f) => !f.includes('/dbx-token-vending/dist/src/client/'));",
      "let deep = 'exported';",
      "try { require('dbx-token-vending/dist/src/index.js'); } catch (e) { deep = e.code; }",
      'console.log(JSON.stringify({ client: typeof c.VendingClient, error: typeof c.VendingClientError, loaded, deep }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['-e', probe], { cwd: consumer, env: { PATH } });
    expect(JSON.parse(stdout)).toEqual({ client: 'function', error: 'function', loaded: [], deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });

    await writeFile(join(consumer, 'use.ts'), [
      "import { VendingClient, isVendingClientError } from 'dbx-token-vending/client';",
      "import type { ServiceProblemCode, VendedToken } from 'dbx-token-vending/client';",
      "const client = new VendingClient({ endpoint: 'https://func.example/api', getCallerToken: () => Promise.resolve('t') });",
      "export const code: ServiceProblemCode = 'not_granted';",
      "export const token: Promise<VendedToken> = client.getToken({ workspace: 'w', mode: 'pat' });",
      'export const check = isVendingClientError;',
      '',
    ].join('\n'));
    // No @types at all (the DOM lib declares fetch): the declarations stand on their own.
    const compilerOptions = { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', lib: ['es2023', 'dom'], types: [] };
    await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use.ts'] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', '.'], { cwd: consumer, env: { PATH } })).resolves.toMatchObject({ stderr: '' });
  }, 120_000);
});
