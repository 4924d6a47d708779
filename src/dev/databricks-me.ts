import { WorkspaceClient } from '@databricks/sdk-experimental';

/**
 * A real Databricks client configured by nothing but the environment (DATABRICKS_HOST and the
 * auth variables `dbx-vend metadata-server` or `dbx-vend exec` set): asks the workspace for its
 * current user `rounds` times, `pauseMs` apart, and prints one JSON line per answer. No token is
 * printed. Used by `npm start` and the tests: `node databricks-me.js [rounds] [pauseMs]`.
 */
async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? '1');
  const pauseMs = Number(process.argv[3] ?? '0');
  const w = new WorkspaceClient({});
  for (let i = 0; i < rounds; i += 1) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const me = await w.currentUser.me();
    console.log(JSON.stringify({ round: i, userName: me.userName, authType: w.config.authType, at: Date.now() }));
  }
}

main().catch((err: unknown) => {
  // The SDK's messages name the host and the failure, never the token.
  console.error(`databricks-me failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
