import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { randomUUID } from 'node:crypto';
import { LocalAuthority } from '../../src/dev/sandbox';
import { createLocalCa } from '../../src/dev/sandbox/ca';

/**
 * A test file's own instance of the sandbox's Entra ID authority, started in the test worker (the
 * run's shared sandbox lives in the main process, where a worker cannot inject faults). Its private
 * CA is added to the process's trusted roots; `stop` closes the authority and removes the CA files.
 */
export interface OwnAuthority {
  readonly authority: LocalAuthority;
  readonly tenantId: string;
  stop(): Promise<void>;
}

export async function startOwnAuthority(tokenLifetimeSeconds = 3600): Promise<OwnAuthority> {
  const dir = await mkdtemp(join(tmpdir(), 'dbx-vend-authority-'));
  const ca = await createLocalCa(dir);
  setDefaultCACertificates([...getCACertificates('default'), ca.caPem]);
  const tenantId = randomUUID();
  const authority = await LocalAuthority.start({
    tenantId, tls: { key: ca.serverKeyPem, cert: ca.serverCertPem }, tokenLifetimeSeconds, quiet: true,
  });
  return {
    authority,
    tenantId,
    stop: async () => {
      await authority.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
