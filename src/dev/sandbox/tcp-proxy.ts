import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** A loopback TCP proxy whose "down" switch cuts every connection without touching the upstream. */
export interface TcpProxy {
  readonly port: number;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(upstreamPort, '127.0.0.1');
    track(client);
    track(upstream);
    // Either side failing ends both: a half-open pair would hang the client instead of failing it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const cutAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    setDown(value: boolean) {
      down = value;
      if (down) cutAll();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        down = true;
        server.close(() => resolve());
        cutAll();
      });
      return closing;
    },
  };
}
