/**
 * A tab's socket held by another server process, as the room's owner sees it: the socket handlers
 * run on it unchanged. Events the tab sends arrive forwarded by the process it is connected to
 * (`deliver`); what the handlers send it goes through socket.io's Redis adapter, addressed to the
 * socket's id (`io.to(id)`), and so do joins of socket.io rooms (broadcasts then reach it too).
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'socket.io';
import type { TabSocket } from '../connection.ts';

export class RemoteSocket {
  connected = true;
  private readonly listeners = new EventEmitter();

  constructor(
    private readonly io: Server,
    readonly id: string,
    /** The process the tab is connected to. */
    readonly origin: string,
    /** Called once when the socket is gone (disconnected here or there). */
    private readonly gone: () => void,
  ) {}

  /**
   * The handlers use a socket's `on`, `emit`, `join`, `leave`, `disconnect`, `connected` and `id`
   * only, which this class has: it stands in for a socket.io Socket there.
   */
  asTabSocket(): TabSocket {
    return this as unknown as TabSocket;
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.listeners.on(event, listener);
    return this;
  }

  emit(event: string, ...args: unknown[]): boolean {
    if (this.connected) this.io.to(this.id).emit(event, ...args);
    return true;
  }

  join(channel: string): void {
    this.io.in(this.id).socketsJoin(channel);
  }

  leave(channel: string): void {
    this.io.in(this.id).socketsLeave(channel);
  }

  /** Hangs up the tab (its process closes it), then ends here as a socket.io socket would. */
  disconnect(): this {
    if (!this.connected) return this;
    this.io.in(this.id).disconnectSockets(true);
    this.closed('server namespace disconnect');
    return this;
  }

  /** An event the tab sent, forwarded by its process (`args` end with the ack, if it asked for one). */
  deliver(event: string, args: unknown[]): void {
    if (this.connected) this.listeners.emit(event, ...args);
  }

  /** The socket is gone: its `disconnect` handlers run, once. */
  closed(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.listeners.emit('disconnect', reason);
    this.gone();
  }
}
