import type { Server, Socket } from 'node:net';

/**
 * A server's "down" switch: it tracks every socket so going down cuts them all at once (keep-alive
 * connections included) and refuses new ones, without stopping the server; close() is idempotent.
 */
export class KillSwitch {
  readonly #sockets = new Set<Socket>();
  #down = false;
  #closing: Promise<void> | undefined;

  constructor(private readonly server: Server) {}

  get isDown(): boolean {
    return this.#down;
  }

  /** Tracks the socket, or destroys it at once while down. Returns whether it was let in. */
  admit(socket: Socket): boolean {
    if (this.#down) {
      socket.destroy();
      return false;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return true;
  }

  setDown(down: boolean): void {
    this.#down = down;
    if (down) this.#cutAll();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#down = true;
      this.server.close(() => resolve());
      this.#cutAll();
    });
    return this.#closing;
  }

  #cutAll(): void {
    (this.server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    for (const socket of this.#sockets) socket.destroy();
  }
}
