/**
 * What the socket handlers share: the server-wide context (registry, broadcasts, the connection
 * of each member) and one tab's connection with the membership it holds, if any.
 */
import type { Server, Socket } from 'socket.io';
import { NotInRoomError, type ClientToServerEvents, type JoinResult, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import type { RoomRegistry, RoomSnapshot } from './room-registry.ts';

export type TabSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
export type TabServer = Server<ClientToServerEvents, ServerToClientEvents>;

export interface Logger {
  info(line: string): void;
  error(line: string): void;
}

export interface Membership {
  room: string;
  peerId: string;
}

/** socket.io room of a tabswarm room; the prefix keeps user-chosen names apart from socket ids. */
function channel(room: string): string {
  return `room:${room}`;
}

export class ServerContext {
  /** The connection of each member, by peer id: where signals go, whom an eviction removes. */
  readonly members = new Map<string, Connection>();

  constructor(readonly io: TabServer, readonly registry: RoomRegistry, readonly log: Logger) {}

  /** Tells the whole room, the joiner included, its new membership. */
  announce(room: RoomSnapshot): void {
    this.io.to(channel(room.room)).emit('room:members', { room: room.room, epoch: room.epoch, members: room.members });
  }
}

/** One tab's socket. A socket is a member of at most one room at a time. */
export class Connection {
  membership: Membership | undefined;

  constructor(readonly socket: TabSocket, readonly server: ServerContext) {}

  /** Who this is, for log lines. */
  who(): string {
    return this.membership ? `room=${this.membership.room} peer=${this.membership.peerId}` : `socket=${this.socket.id}`;
  }

  /** The membership, or NotInRoomError. */
  member(): Membership {
    if (!this.membership) throw new NotInRoomError('join a room first');
    return this.membership;
  }

  /** Leaves the current room (if any) and joins `room` as a new member. Throws the registry's errors. */
  join(room: string, config: Record<string, unknown> | undefined, name: string | undefined): JoinResult {
    // A failed join below leaves the tab in no room, which is the simplest state to reason about.
    this.leave('rejoin');
    const { peerId, snapshot } = this.server.registry.join(room, config);
    this.membership = { room, peerId };
    this.server.members.set(peerId, this);
    void this.socket.join(channel(room));
    const named = name === undefined ? '' : ` name=${JSON.stringify(name)}`;
    this.server.log.info(`join room=${room} peer=${peerId} epoch=${snapshot.epoch} members=${snapshot.members.length}${named}`);
    return { peerId, room, config: snapshot.config, epoch: snapshot.epoch, members: snapshot.members };
  }

  /** Leaves the current room, if any, and tells the members who stay. */
  leave(reason: string): void {
    if (!this.membership) return;
    const { room, peerId } = this.membership;
    this.membership = undefined;
    this.server.members.delete(peerId);
    void this.socket.leave(channel(room));
    const after = this.server.registry.leave(room, peerId);
    if (!after) return;
    this.server.log.info(`leave room=${room} peer=${peerId} epoch=${after.epoch} members=${after.members.length} reason=${reason}`);
    if (after.members.length > 0) this.server.announce(after);
  }

  /** Removed by the room's majority: leaves, then hears why. It may join again. */
  evict(reason: string): void {
    const room = this.membership?.room;
    if (room === undefined) return;
    this.leave(`evicted: ${reason}`);
    this.socket.emit('room:evicted', { room, reason });
  }
}
