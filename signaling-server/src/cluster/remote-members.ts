/**
 * The room owner's side of the cluster: tabs connected to other processes, as members of rooms
 * owned here. A forwarded event runs the same socket handlers as a local one, on a RemoteSocket;
 * its ack goes back to the tab's process as a Reply. A tab whose process died (its lease expired)
 * leaves its room as if its socket had closed.
 */
import { Connection, type ServerContext } from '../connection.ts';
import type { Leases } from './leases.ts';
import { REPLY, SerialQueues, type ClusterServer, type Forward } from './messages.ts';
import { RemoteSocket } from './remote-socket.ts';
import type { Server } from 'socket.io';

export interface RemoteMembersOptions {
  /** Installs the socket handlers on a connection (server.ts, the same as for a local socket). */
  handle(conn: Connection): void;
  /** Whether this process holds `room` (its registry knows it, and the cluster renews its lease). */
  holds(room: string): boolean;
}

export class RemoteMembers {
  private readonly sockets = new Map<string, { socket: RemoteSocket; conn: Connection }>();
  private readonly queues: SerialQueues;
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly io: ClusterServer, private readonly context: ServerContext, private readonly leases: Leases, private readonly options: RemoteMembersOptions) {
    this.queues = new SerialQueues((err) => context.log.error(`cluster: a forwarded event failed: ${err instanceof Error ? err.message : String(err)}`, { event: 'cluster' }));
  }

  /** Remote tabs in a room here. */
  get members(): number {
    return [...this.sockets.values()].filter((s) => s.conn.membership !== undefined).length;
  }

  receive(message: Forward): void {
    if (message.to !== this.leases.me) return;
    this.queues.run(message.socket, () => this.deliver(message));
  }

  /**
   * Tabs whose process is gone (its lease missing for `graceMs`: after a Redis restart it is
   * missing until the process renews it) leave their rooms, as when a socket closes. The process
   * is declared gone first (Leases.bury): one that was only slow learns it at its next beat and
   * makes its tabs register again, so none stays out of its room without knowing it.
   */
  async dropDeadOrigins(graceMs: number, now = Date.now()): Promise<void> {
    const origins = new Set([...this.sockets.values()].map((s) => s.socket.origin));
    for (const origin of this.missingSince.keys()) if (!origins.has(origin)) this.missingSince.delete(origin);
    for (const origin of origins) {
      if (await this.leases.isAlive(origin)) {
        this.missingSince.delete(origin);
        continue;
      }
      const since = this.missingSince.get(origin) ?? now;
      this.missingSince.set(origin, since);
      if (now - since < graceMs) continue;
      this.missingSince.delete(origin);
      // Beaten by a late beat of a process that was only slow: it keeps its tabs.
      if (!(await this.leases.bury(origin))) continue;
      this.context.log.info(`cluster: process ${origin} is gone: its tabs leave their rooms`, { event: 'process-gone' });
      for (const { socket } of [...this.sockets.values()]) if (socket.origin === origin) socket.closed(`its server process ${origin} is gone`);
    }
  }

  /** Whether `conn` is a remote tab's. */
  has(conn: Connection): boolean {
    return this.sockets.get(conn.socket.id)?.conn === conn;
  }

  /** Forgets a remote tab without a word (its room moved to another owner; its process makes it re-register). */
  forget(conn: Connection): void {
    if (!this.has(conn)) return;
    conn.closed();
    this.sockets.delete(conn.socket.id);
  }

  private async deliver(message: Forward): Promise<void> {
    const known = this.sockets.get(message.socket);
    if (message.event === 'disconnect') {
      known?.socket.closed(String(message.args[0] ?? 'disconnect'));
      return;
    }
    // Forwarded to the owner its process saw. A room not held here (or whose lease this process
    // cannot prove: it stalled) may be claimed or renewed by a join or a rejoin only, which bring
    // the tab's membership; any other event is refused, and the renewal settles who owns the room.
    if (!this.options.holds(message.room) || !this.leases.holds(message.room)) {
      const claims = message.event === 'room:join' || message.event === 'room:rejoin';
      if (!claims || (await this.leases.owner(message.room)) !== this.leases.me) {
        this.reply(message, { ok: false, error: { name: 'InternalError', message: `room ${message.room} moved to another server process; try again` } });
        return;
      }
    }
    const entry = known ?? this.open(message);
    const args = message.call === undefined ? message.args : [...message.args, (result: unknown) => this.reply(message, result)];
    entry.socket.deliver(message.event, args);
  }

  private open(message: Forward): { socket: RemoteSocket; conn: Connection } {
    const socket = new RemoteSocket(this.io as unknown as Server, message.socket, message.from, () => this.sockets.delete(message.socket));
    const conn = new Connection(socket.asTabSocket(), this.context, message.address);
    this.options.handle(conn);
    const entry = { socket, conn };
    this.sockets.set(message.socket, entry);
    return entry;
  }

  private reply(message: Forward, result: unknown): void {
    if (message.call === undefined) return;
    this.io.serverSideEmit(REPLY, { to: message.from, call: message.call, result: result as never });
  }
}
