import type { TestProject } from 'vitest/node';
import { startSandbox } from '../../src/dev/sandbox';
import type { SandboxApps, VendingConfigDocument } from '../../src/dev/sandbox';

/** What the in-process integration tests receive from the one sandbox of the run (all plain data). */
export interface SandboxInfo {
  readonly hostEnv: Record<string, string>;
  readonly caPem: string;
  readonly tenantId: string;
  readonly authorityHost: string;
  readonly vaultUrl: string;
  readonly workspaceUrl: string;
  readonly workspaceResourceId: string;
  readonly apps: SandboxApps;
  readonly config: VendingConfigDocument;
  /** IDENTITY_ENDPOINT and IDENTITY_HEADER: the authority's App Service managed identity endpoint. */
  readonly managedIdentity: { readonly endpoint: string; readonly header: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    sandbox: SandboxInfo;
  }
}

/**
 * vitest globalSetup: the real local components (azurite, the sandbox's Entra ID, Key Vault and
 * Databricks) start once per run, in the main process; workers get their addresses and the
 * sandbox's app settings through `inject('sandbox')`. No function host is spawned.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const sandbox = await startSandbox({ quiet: true });
  project.provide('sandbox', {
    hostEnv: sandbox.hostEnv(),
    caPem: sandbox.caPem,
    tenantId: sandbox.tenantId,
    authorityHost: sandbox.authorityHost,
    vaultUrl: sandbox.vaultUrl,
    workspaceUrl: sandbox.workspaceUrl,
    workspaceResourceId: sandbox.workspaceResourceId,
    apps: sandbox.apps,
    config: sandbox.config,
    managedIdentity: sandbox.authority.managedIdentity,
  });
  return () => sandbox.stop();
}
