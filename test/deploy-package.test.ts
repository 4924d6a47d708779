// The deployment package (deploy/): what azd and the documented az path publish. It is built here
// by the same script `npm run build` runs, then held to its contract: three files, under 5 MB,
// no module required from outside but Node's own and the worker-provided `@azure/functions-core`,
// and, loaded the way the Functions Node.js worker loads it, every route registered and answering.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const repoRoot = resolve(__dirname, '..');
const deployDir = join(repoRoot, 'deploy');
const TENANT = '11111111-2222-3333-4444-555555555555';
const MAX_PACKAGE_BYTES = 5 * 1024 * 1024;

/** The settings a deployed app gets, minus the vault: the audit key is given directly. */
const SETTINGS = {
  VENDING_CONFIG: JSON.stringify({
    cloud: 'AzurePublic',
    tenantId: TENANT,
    callers: { audiences: ['api://dbx-token-vending'], allowedTenants: [TENANT] },
    keyVaultUrl: 'https://kv.vault.azure.net',
    servicePrincipals: {},
    workspaces: {},
    grants: [],
  }),
  AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
  AUDIT_HMAC_KEY: Buffer.alloc(32, 7).toString('base64'),
};

interface ProbeResult {
  loadStartedMs: number;
  loadedMs: number;
  routes: { name: string; route: string; authLevel: string; methods: string[] }[];
  answers: { route: string; status: number; body?: string }[];
}

beforeAll(async () => {
  await execFileAsync(process.execPath, [join(repoRoot, 'scripts', 'package-app.mjs')], { cwd: repoRoot, timeout: 60_000 });
}, 90_000);

describe('the deployment package', () => {
  it('holds only the bundle, host.json and a package.json naming the bundle as main, under 5 MB', async () => {
    expect((await readdir(deployDir)).sort()).toEqual(['host.json', 'index.js', 'package.json']);
    let total = 0;
    for (const file of await readdir(deployDir)) total += (await stat(join(deployDir, file))).size;
    expect(total).toBeLessThanOrEqual(MAX_PACKAGE_BYTES);
    const manifest = JSON.parse(await readFile(join(deployDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.main).toBe('index.js');
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
    expect(manifest.optionalDependencies).toBeUndefined();
    expect(await readFile(join(deployDir, 'host.json'), 'utf8')).toBe(await readFile(join(repoRoot, 'host.json'), 'utf8'));
  });

  it('requires nothing at run time but Node built-ins and the worker-provided @azure/functions-core', async () => {
    const bundle = await readFile(join(deployDir, 'index.js'), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1] ?? ''));
    const foreign = [...required].filter((name) => !isBuiltin(name));
    expect(foreign).toEqual(['@azure/functions-core']);
  });

  it('registers every route through the worker module when loaded like the Functions worker loads it, and answers', async () => {
    const { stdout } = await execFileAsync(process.execPath, [join(repoRoot, 'scripts', 'probe-package.mjs'), deployDir], {
      env: { PATH: process.env.PATH ?? '', ...SETTINGS },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout) as ProbeResult;
    expect(result.routes.map((r) => `${r.name} ${r.route}`)).toEqual([
      'token token', 'revokeToken token/{workspace}/{token_id}', 'workspaces workspaces', 'audit audit', 'auditLookup audit/lookup', 'health health',
      'grants grants', 'grant grants/{id}', 'grantRenew grants/{id}/renew', 'grantRequests grant-requests', 'grantRequestApprove grant-requests/{id}/approve', 'grantRequestDecline grant-requests/{id}/decline',
    ]);
    for (const r of result.routes) {
      expect(r.authLevel).toBe('anonymous');
      expect(r.methods).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
    }
    const [health] = result.answers;
    expect(health?.status).toBe(200);
    expect(JSON.parse(health?.body ?? '{}')).toMatchObject({ status: 'ok', checks: { config: 'ok' } });
  });

  it('refuses to start with an invalid configuration, naming the problem and registering nothing', async () => {
    const failed = await execFileAsync(process.execPath, [join(repoRoot, 'scripts', 'probe-package.mjs'), deployDir], {
      env: { PATH: process.env.PATH ?? '', ...SETTINGS, VENDING_CONFIG: JSON.stringify({ tenantId: 'not-a-guid' }) },
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: unknown) => err as { code: number; stdout: string; stderr: string },
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stdout).toBe('');
    expect(failed?.stderr).toMatch(/tenantId/);
  });
});

describe('the azd project publishes that package', () => {
  it('names deploy/ as the service output, builds locally, and leaves no .funcignore that would flip remote build', async () => {
    const azureYaml = await readFile(join(repoRoot, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^ {2}api:\n {4}project: \.\n {4}host: function\n {4}language: ts$/m);
    expect(azureYaml).toMatch(/^ {4}dist: deploy$/m);
    expect(azureYaml).toMatch(/^ {4}remoteBuild: false$/m);
    // azd reads the project's .funcignore to check remoteBuild (it must not exclude node_modules
    // with remoteBuild: false) and the one inside dist/ to filter the zip: neither exists.
    expect(existsSync(join(repoRoot, '.funcignore'))).toBe(false);
    const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.build).toContain('scripts/package-app.mjs');
  });
});
