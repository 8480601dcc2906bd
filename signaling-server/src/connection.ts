/**
 * What the socket handlers share: the server-wide context (registry, rebuild windows, broadcasts,
 * the connection of each member) and one tab's connection with the membership it holds, if any.
 */
import type { Server, Socket } from 'socket.io';
import { randomBytes } from 'node:crypto';
import { estimateCost, NotInRoomError, quote, RateLimitError, RoomFullError, UnknownRoomError, type ClientToServerEvents, type EvictedEvent, type FinishedRun, type IceServer, type JoinResult, type JoinRole, type ProgressReport, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import type { Logger } from './log.ts';
import type { ServerMetrics } from './metrics.ts';
import { TokenBucket } from './rate-limit.ts';
import { iceServersFor, type IceOptions } from './ice-servers.ts';
import type { RebuildWindows } from './rebuild-windows.ts';
import type { RoomRegistry, RoomSnapshot } from './room-registry.ts';
import { RoomWatch } from './room-watch.ts';
import type { Tickets } from './tickets.ts';

export type TabSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
export type TabServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type { Logger } from './log.ts';

/** Limits a connection applies to itself. */
export interface ConnectionLimits {
  /** A socket in no room (and waiting for no rebuild) this long is disconnected. */
  joinWithinMs: number;
  /** Signals one member may relay to one other: `burst` at once, `perSecond` sustained. */
  relayPair: { burst: number; perSecond: number };
}

/** Error lines one connection may write to the log at once, and per second after: a flood writes a few lines, not one per event. */
const LOG_BURST = 20;
const LOG_PER_SECOND = 1;
/** Progress reports one member may send: a few at once, one per 2 s sustained (members send one per PROGRESS_REPORT_MS). */
const PROGRESS_BURST = 3;
const PROGRESS_PER_SECOND = 0.5;

/** A member's last progress report and when it came (ms, performance.now). */
export interface MemberProgress {
  report: ProgressReport;
  at: number;
}

export interface Membership {
  room: string;
  peerId: string;
  /** An observer follows the room without being a member of it (room-watch.ts). */
  role?: JoinRole;
}

/** socket.io room of a tabswarm room; the prefix keeps user-chosen names apart from socket ids. */
function channel(room: string): string {
  return `room:${room}`;
}

export class ServerContext {
  /** The connection of each member (and observer), by peer id: where signals go, whom an eviction removes. */
  readonly members = new Map<string, Connection>();

  /** Each room's observers and finished run (room-watch.ts). */
  readonly watch = new RoomWatch();

  /**
   * The server is shutting down: sockets close without telling the members who stay, so they keep
   * training on their membership and re-register it with the next server (nobody is left alone).
   */
  closing = false;

  /** Each member's last progress report, by peer id (forgotten when it leaves): the organiser's list. */
  readonly progress = new Map<string, MemberProgress>();

  /**
   * With several server processes (cluster/): whether this process surely still owns `room`, and
   * where a decision goes that must wait for the proof. Without it, this process owns every room it holds.
   */
  authority: { holds(room: string): boolean; lost(room: string): void } | undefined;

  /** A deferred resync per room (the room's resync window), so one timer per room at most. */
  readonly resyncTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    readonly io: TabServer,
    readonly registry: RoomRegistry,
    readonly rebuilds: RebuildWindows,
    readonly log: Logger,
    readonly metrics: ServerMetrics,
    readonly limits: ConnectionLimits,
    /** Set when the server requires join tickets. */
    readonly tickets: Tickets | undefined,
    private readonly ice: IceOptions = {},
  ) {}

  /** `peerId`'s ICE servers for an answer sent now (TURN credentials are made fresh each time). */
  iceServers(peerId: string): IceServer[] {
    return iceServersFor(this.ice, peerId, Date.now());
  }

  /** Tells the whole room, the joiner included, its new membership. */
  announce(room: RoomSnapshot): void {
    if (this.closing) return;
    if (!this.mayDecide(room.room)) return;
    this.metrics.epochs.inc();
    this.io.to(channel(room.room)).emit('room:members', { room: room.room, epoch: room.epoch, members: room.members });
  }

  /**
   * Whether this process may announce `room`'s membership now. One whose lease may have lapsed (it
   * stalled) announces nothing until its renewal proves the lease again (then the room's current
   * membership), or forgets the room if another process took it: every epoch has one author.
   */
  mayDecide(room: string): boolean {
    if (!this.authority || this.authority.holds(room)) return true;
    this.authority.lost(room);
    return false;
  }

  /** Tells the room's members (and observers) who observes it now. */
  announceObservers(room: string): void {
    if (this.closing) return;
    this.io.to(channel(room)).emit('room:observers', { room, observers: this.watch.observers(room) });
  }

  /** Tells the room (members and observers) that its run finished. */
  announceFinished(room: string, run: FinishedRun): void {
    if (this.closing) return;
    this.io.to(channel(room)).emit('room:finished', { room, run });
  }

  /**
   * `conn`'s registration with a rebuilding room is void (it went away, or claims something else
   * now). A rebuild left with no registration is dropped, and the joins it held back go ahead.
   */
  withdraw(conn: Connection, pending: Membership): void {
    if (!this.rebuilds.remove(pending.room, pending.peerId, conn)) return;
    if (!this.registry.withdraw(pending.room, pending.peerId)) return;
    for (const join of this.rebuilds.close(pending.room)?.joins ?? []) join();
  }
}

/** One tab's socket. A socket is a member of at most one room at a time. */
export class Connection {
  membership: Membership | undefined;
  /** A rejoin waiting for its room's rebuild to be decided. */
  pending: Membership | undefined;
  /** Relay budgets of this member, by target peer id (cleared with the membership). */
  private readonly relayBudgets = new Map<string, TokenBucket>();
  private readonly logBudget = new TokenBucket(LOG_BURST, LOG_PER_SECOND);
  private readonly progressBudget = new TokenBucket(PROGRESS_BURST, PROGRESS_PER_SECOND);
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  /** `address`: the client's (client-address.ts), for the limits per address. */
  constructor(readonly socket: TabSocket, readonly server: ServerContext, readonly address: string) {
    this.expectJoin();
  }

  /** Disconnects this socket if it is in no room `joinWithinMs` from now: an idle socket holds a connection slot for nothing. */
  expectJoin(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.membership || this.pending || !this.socket.connected) return;
      this.server.metrics.reject('idle');
      this.server.log.debug?.(`idle ${this.who()}: joined no room within ${this.server.limits.joinWithinMs} ms`, { event: 'idle', address: this.address });
      this.socket.disconnect(true);
    }, this.server.limits.joinWithinMs);
    this.idleTimer.unref?.();
  }

  /** Stops the idle timer (the socket closed). */
  closed(): void {
    clearTimeout(this.idleTimer);
  }

  /** Another server process owns this tab's room (cluster/): its copy of the connection keeps the idle timer. */
  handedOver(): void {
    clearTimeout(this.idleTimer);
  }

  /** Whether an error line may be logged now (the connection's log budget). */
  mayLog(): boolean {
    return this.logBudget.take();
  }

  /** Takes one signal to `to` from this member's budget for that pair: RateLimitError when spent. */
  spendRelay(to: string): void {
    let budget = this.relayBudgets.get(to);
    if (!budget) {
      const { burst, perSecond } = this.server.limits.relayPair;
      budget = new TokenBucket(burst, perSecond);
      this.relayBudgets.set(to, budget);
    }
    if (!budget.take()) throw new RateLimitError(`too many signals to ${to.slice(0, 8)}`);
  }

  /** Keeps this member's progress for the organiser: NotInRoomError outside a room, RateLimitError past its budget. */
  reportProgress(report: ProgressReport): void {
    const { peerId } = this.member();
    if (!this.progressBudget.take()) throw new RateLimitError('progress reported too often');
    this.server.progress.set(peerId, { report, at: performance.now() });
  }

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
  join(room: string, config: Record<string, unknown> | undefined, name: string | undefined, ticket: string | undefined, role?: JoinRole): JoinResult {
    // A failed join below leaves the tab in no room, which is the simplest state to reason about.
    this.leave('rejoin');
    this.server.tickets?.check(room, ticket);
    const named = name === undefined ? '' : ` name=${quote(name)}`;
    // A finished room takes no new members: whoever opens it follows it and fetches the model.
    if (role === 'observer' || this.server.watch.finished(room)) return this.observe(room, named);
    const { peerId, token, snapshot } = this.server.registry.join(room, config, this.address);
    this.bind(room, peerId);
    this.server.log.info(`join room=${room} peer=${peerId} epoch=${snapshot.epoch} members=${snapshot.members.length}${named}`, { event: 'join', room, peer: peerId, epoch: snapshot.epoch, address: this.address });
    return {
      peerId, room, config: snapshot.config, epoch: snapshot.epoch, members: snapshot.members, token, cost: estimateCost(snapshot.config),
      iceServers: this.server.iceServers(peerId), organised: snapshot.organised === true,
      role: 'member', finished: null, observers: this.server.watch.observers(room),
    };
  }

  /**
   * Joins `room` as an observer: not a member (no epoch, no ring, no blame), but signals pass
   * between it and the members. UnknownRoomError if the room has neither members nor a finished run.
   */
  private observe(room: string, named: string): JoinResult {
    const { watch, registry } = this.server;
    const snapshot = registry.snapshot(room);
    const finished = watch.finished(room);
    const config = snapshot?.config ?? finished?.config;
    if (!config) throw new UnknownRoomError(`room ${room} has no members and no finished run`);
    // Each observer may cost every member a snapshot every few seconds: as many as members at most.
    if (watch.observers(room).length >= registry.maxMembersPerRoom) throw new RoomFullError(`room ${room} has ${registry.maxMembersPerRoom} observers already`);
    if (watch.observersFrom(room, this.address) >= registry.maxMembersPerAddress) throw new RoomFullError(`this address observes room ${room} ${registry.maxMembersPerAddress} times already`);
    const peerId = randomBytes(16).toString('hex');
    watch.observe(room, peerId, this.address);
    this.bind(room, peerId, 'observer');
    const members = snapshot?.members ?? [];
    this.server.log.info(`observe room=${room} peer=${peerId} members=${members.length} finished=${finished !== undefined}${named}`, { event: 'observe', room, peer: peerId, address: this.address });
    return {
      peerId, room, config, epoch: snapshot?.epoch ?? 0, members, token: randomBytes(16).toString('hex'), cost: estimateCost(config),
      iceServers: this.server.iceServers(peerId), organised: snapshot?.organised === true, role: 'observer', finished: finished?.run ?? null, observers: watch.observers(room),
    };
  }

  /** Holds `peerId` in `room` (the registry has made it a member): signals and broadcasts reach it. */
  bind(room: string, peerId: string, role: JoinRole = 'member'): void {
    this.membership = { room, peerId, role };
    this.server.members.set(peerId, this);
    void this.socket.join(channel(room));
  }

  /**
   * A new connection of the same member (its token proves it) took the peer id over: let go of it
   * without leaving the room, and hang up.
   */
  release(): void {
    const held = this.membership;
    this.membership = undefined;
    if (held) this.server.log.info(`takeover room=${held.room} peer=${held.peerId}: a new connection holds it`, { event: 'takeover', room: held.room, peer: held.peerId });
    this.socket.disconnect(true);
  }

  /** Leaves the current room (or rebuild), if any, and tells the members who stay. */
  leave(reason: string): void {
    if (this.pending) {
      const pending = this.pending;
      this.pending = undefined;
      this.server.withdraw(this, pending);
    }
    if (!this.membership) return;
    const { room, peerId, role } = this.membership;
    this.membership = undefined;
    this.relayBudgets.clear();
    this.server.members.delete(peerId);
    this.server.progress.delete(peerId);
    void this.socket.leave(channel(room));
    if (this.socket.connected) this.expectJoin();
    if (role === 'observer') {
      if (this.server.watch.unobserve(room, peerId)) this.server.announceObservers(room);
      return;
    }
    const after = this.server.registry.leave(room, peerId);
    if (!after) return;
    if (after.members.length === 0) this.server.watch.emptied(room);
    this.server.log.info(`leave room=${room} peer=${peerId} epoch=${after.epoch} members=${after.members.length} reason=${reason}`, { event: 'leave', room, peer: peerId, epoch: after.epoch });
    if (after.members.length > 0) this.server.announce(after);
  }

  /**
   * Removed by the room's majority (it may join again, after `rejoinAfterMs`) or by the organiser
   * (its tab stays out): leaves, then hears why, by whom and when it may come back.
   */
  evict(reason: string, by: NonNullable<EvictedEvent['by']> = 'room', rejoinAfterMs = 0): void {
    const room = this.membership?.room;
    if (room === undefined) return;
    this.leave(`evicted by the ${by}: ${reason}`);
    this.server.metrics.evictions.inc();
    this.socket.emit('room:evicted', { room, reason, by, ...(rejoinAfterMs > 0 ? { rejoinAfterMs } : {}) });
  }
}
