import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { KillSwitch } from './kill-switch.js';

/** A loopback TCP proxy whose "down" switch cuts every connection without touching the upstream. */
export interface TcpProxy {
  readonly port: number;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number): Promise<TcpProxy> {
  const server = createServer();
  const killSwitch = new KillSwitch(server);
  server.on('connection', (client: Socket) => {
    if (!killSwitch.admit(client)) return;
    const upstream = connect(upstreamPort, '127.0.0.1');
    killSwitch.admit(upstream);
    // Either side failing ends both: a half-open pair would hang the client instead of failing it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setDown: (value: boolean) => killSwitch.setDown(value),
    close: () => killSwitch.close(),
  };
}
