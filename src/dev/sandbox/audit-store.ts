import { TableClient } from '@azure/data-tables';
import { startAzuriteTable } from './azurite-process.js';
import { startTcpProxy } from './tcp-proxy.js';

export const AUDIT_TABLE_NAME = 'vendingaudit';

// Azurite's published development account and key: public knowledge, not a secret.
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The audit table: azurite in memory behind a proxy, so an outage can be staged without losing rows. */
export interface AuditStore {
  /** Points at the proxy, never at azurite itself. */
  readonly connectionString: string;
  readonly tableName: string;
  setDown(down: boolean): void;
  stop(): Promise<void>;
}

export async function startAuditStore(workDir: string, quiet: boolean): Promise<AuditStore> {
  const azurite = await startAzuriteTable(workDir, quiet);
  const proxy = await startTcpProxy(azurite.port).catch(async (err: unknown) => {
    await azurite.stop();
    throw err;
  });
  const stop = async (): Promise<void> => {
    await proxy.close();
    await azurite.stop();
  };
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `TableEndpoint=http://127.0.0.1:${proxy.port}/${DEV_ACCOUNT};`;
  try {
    await TableClient.fromConnectionString(connectionString, AUDIT_TABLE_NAME, { allowInsecureConnection: true }).createTable();
  } catch (err) {
    await stop();
    throw err;
  }
  return { connectionString, tableName: AUDIT_TABLE_NAME, setDown: (down) => proxy.setDown(down), stop };
}
