// The Bicep CLI as the tests run it: infra/scripts/bicep.sh (PATH, else a pinned NuGet package
// restored once into .tools/), and an offline deployment snapshot of infra/main.bicep (every
// nested module flattened, names and scopes evaluated). Shared by the infra tests and the
// production-wiring test, which reads the app settings the template writes from the snapshot.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const repoRoot = resolve(__dirname, '..', '..');
export const infraDir = join(repoRoot, 'infra');
const bicepScript = join(infraDir, 'scripts', 'bicep.sh');

export const SNAPSHOT_SCOPE = {
  tenantId: '11111111-1111-4111-8111-111111111111',
  subscriptionId: '44444444-4444-4444-8444-444444444444',
  resourceGroup: 'rg-vending-test',
  location: 'swedencentral',
};
export const API_CLIENT_ID = '22222222-2222-4222-8222-222222222222';
export const OPERATOR_ID = '33333333-3333-4333-8333-333333333333';

export interface ArmResource {
  type: string;
  name: string;
  id?: string;
  kind?: string;
  sku?: { name?: string; tier?: string };
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  tags?: Record<string, string> | string;
  scope?: string;
  condition?: boolean | string;
  copy?: unknown;
  /** languageVersion 2.0 lists referenced (`existing`) resources too; they are not deployed. */
  existing?: boolean;
  properties?: Record<string, unknown>;
}

export interface Snapshot {
  predictedResources: ArmResource[];
  diagnostics: unknown[];
  outputs: Record<string, unknown>;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runBicep(args: string[], timeoutMs = 120_000): Promise<CliRun> {
  try {
    const { stdout, stderr } = await execFileAsync('bash', [bicepScript, ...args], {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? String(err),
    };
  }
}

/**
 * The CLI's version line, or undefined when there is none (outside CI the caller skips loudly;
 * with CI=true a missing CLI is a failure, thrown here).
 */
export async function bicepVersion(): Promise<string | undefined> {
  const version = await runBicep(['--version'], 280_000);
  if (version.code === 0) return version.stdout.trim();
  const why = `Bicep CLI unavailable (infra/scripts/bicep.sh exited ${version.code}):\n${version.stderr.trim()}`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${why}\nCI=true: the infra tests must run, so this is a failure.`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING the infra tests. ${why}\n${'!'.repeat(78)}\n`);
  return undefined;
}

function snapshotParams(dir: string, extra: string): string {
  const using = relative(dir, join(infraDir, 'main.bicep')).split('\\').join('/');
  return [
    `using '${using}'`,
    `param environmentName = 'test'`,
    `param location = '${SNAPSHOT_SCOPE.location}'`,
    `param vendingConfig = {`,
    `  cloud: 'AzurePublic'`,
    `  tenantId: '${SNAPSHOT_SCOPE.tenantId}'`,
    `}`,
    `param vendingApiClientId = '${API_CLIENT_ID}'`,
    `param operatorPrincipalId = '${OPERATOR_ID}'`,
    // utcNow() is only known at deployment: the snapshot gets a fixed provision time.
    `param provisionedAt = '20260101T000000Z'`,
    extra,
    '',
  ].join('\n');
}

/** `bicep snapshot` of main.bicep with the test parameters (plus `extra` lines) in `dir`. */
export async function takeSnapshot(dir: string, name: string, extra: string): Promise<Snapshot> {
  const paramsFile = join(dir, `${name}.bicepparam`);
  await writeFile(paramsFile, snapshotParams(dir, extra));
  const run = await runBicep([
    'snapshot', paramsFile, '--mode', 'overwrite',
    '--tenant-id', SNAPSHOT_SCOPE.tenantId,
    '--subscription-id', SNAPSHOT_SCOPE.subscriptionId,
    '--resource-group', SNAPSHOT_SCOPE.resourceGroup,
    '--location', SNAPSHOT_SCOPE.location,
  ]);
  if (run.code !== 0) {
    throw new Error(`bicep snapshot ${name} failed (${run.code}):\n${run.stdout}${run.stderr}`);
  }
  return JSON.parse(await readFile(join(dir, `${name}.snapshot.json`), 'utf8')) as Snapshot;
}

/** The function app's app settings as the template writes them (values may be ARM expressions). */
export function appSettingsOf(snapshot: Snapshot): Record<string, unknown> {
  const found = snapshot.predictedResources.filter((r) => r.type === 'Microsoft.Web/sites/config' && /\/appsettings$/.test(r.name));
  if (found.length !== 1 || !found[0]?.properties) throw new Error(`expected one appsettings resource, found ${found.length}`);
  return found[0].properties;
}
