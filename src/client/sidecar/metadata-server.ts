import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkMetadataRequest, error, isLoopbackAddress, tokenAnswer } from './metadata-protocol';
import type { MetadataAnswer } from './metadata-protocol';
import type { TokenKeeper } from './token-keeper';

export interface MetadataServer {
  /** `http://127.0.0.1:<port>/<random uuid>`: the path is the session's only secret. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves one workspace's tokens on 127.0.0.1 at an unguessable path. Listening on loopback keeps
 * other machines out; the remote-address check is a second guard should the bind ever change.
 * Answers are never cached (`no-store`) and never logged.
 */
export async function startMetadataServer(options: { readonly host: string; readonly port: number; readonly keeper: TokenKeeper }): Promise<MetadataServer> {
  const session = { path: `/${randomUUID()}`, host: options.host };
  const server = createServer((req, res) => {
    if (!isLoopbackAddress(req.socket.remoteAddress)) {
      req.socket.destroy();
      return;
    }
    void answer(req, session, options.keeper).then((a) => write(res, a));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${session.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(req: IncomingMessage, session: { path: string; host: string }, keeper: TokenKeeper): Promise<MetadataAnswer> {
  const refused = checkMetadataRequest({ method: req.method ?? '', url: req.url ?? '', headers: req.headers }, session);
  if (refused) return refused;
  try {
    return tokenAnswer(await keeper.current());
  } catch {
    // The failure was already described on stderr by the CLI's first fetch or by the keeper; the SDK needs only a non-200.
    return error(503, 'token_unavailable', 'No valid token: the vending API could not be reached or refused; see the dbx-vend output.');
  }
}

function write(res: ServerResponse, a: MetadataAnswer): void {
  res.writeHead(a.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...a.headers });
  res.end(JSON.stringify(a.body));
}
