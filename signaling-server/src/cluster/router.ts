/**
 * The tab's side of the cluster, in the process it is connected to: every event of a tab goes to
 * the process that owns the tab's room (leases.ts). Owned here, the event goes on to this
 * process's own handlers (socket.io middleware `next`); owned elsewhere, it is forwarded there
 * and the owner's answer comes back to the tab's ack. When a room's owner is lost (its lease
 * expired or moved), the room's tabs here are made to reconnect, which makes them re-register
 * the room (`room:rejoin`) with whichever process owns it next.
 */
import type { Ack } from '@tabswarm/shared/protocol';
import type { Connection, Logger, TabSocket } from '../connection.ts';
import { joinedRoomName } from '../payloads.ts';
import type { Leases } from './leases.ts';
import { FORWARD, SerialQueues, type ClusterServer, type Reply } from './messages.ts';

interface Route {
  room: string;
  owner: string;
  socket: TabSocket;
}

interface PendingCall {
  socket: string;
  ack: (result: Ack<unknown>) => void;
  timer: ReturnType<typeof setTimeout>;
  /** A join or rejoin: routed again when its room's owner is lost before it answered. */
  again: (() => void) | undefined;
}

export interface RouterOptions {
  /** A forwarded event with an ack is answered with an InternalError after this long. */
  answerWithinMs: number;
  /** A room's key missing this long (not just during a Redis restart, before its owner renews it) means its owner is lost. */
  lostAfterMs: number;
  forwarded(): void;
  /** The server is shutting down: its tabs' disconnects are not forwarded (as a lone server announces no leaves then). */
  closing(): boolean;
  ownerLost(): void;
}

export class Router {
  private readonly routes = new Map<string, Route>();
  private readonly calls = new Map<number, PendingCall>();
  private readonly queues: SerialQueues;
  private readonly missingSince = new Map<string, number>();
  private nextCall = 1;

  constructor(private readonly io: ClusterServer, private readonly leases: Leases, private readonly log: Logger, private readonly options: RouterOptions) {
    this.queues = new SerialQueues((err) => log.error(`cluster: routing failed: ${err instanceof Error ? err.message : String(err)}`, { event: 'cluster' }));
  }

  /** Routes `conn`'s events from now on (after its rate limits, which stay with the tab's process). */
  attach(conn: Connection): void {
    const { socket } = conn;
    socket.use(([event, ...args], next) => {
      this.queues.run(socket.id, () => this.route(conn, event, args, next));
    });
    socket.on('disconnect', (reason) => {
      this.queues.run(socket.id, () => {
        const route = this.routes.get(socket.id);
        this.routes.delete(socket.id);
        if (route && route.owner !== this.leases.me && !this.options.closing()) this.forward(route, conn, 'disconnect', [reason]);
        for (const [call, pending] of this.calls) {
          if (pending.socket !== socket.id) continue;
          clearTimeout(pending.timer);
          this.calls.delete(call);
        }
      });
    });
  }

  /** The owner's answer to a forwarded event. */
  answer(reply: Reply): void {
    const pending = this.calls.get(reply.call);
    if (!pending) return;
    this.calls.delete(reply.call);
    clearTimeout(pending.timer);
    pending.ack(reply.result);
  }

  /** Rooms with a tab connected here. */
  get rooms(): number {
    return new Set([...this.routes.values()].map((r) => r.room)).size;
  }

  /**
   * Checks the owner of every room whose tabs here forward to another process; a lost owner's
   * tabs reconnect and re-register (their process: this one or, behind a proxy, any other).
   */
  async watch(now = Date.now()): Promise<void> {
    const watched = new Map<string, string>();
    for (const route of this.routes.values()) if (route.owner !== this.leases.me) watched.set(route.room, route.owner);
    for (const room of this.missingSince.keys()) if (!watched.has(room)) this.missingSince.delete(room);
    for (const [room, owner] of watched) {
      const holder = await this.leases.holder(room);
      if (holder === owner) {
        this.missingSince.delete(room);
        continue;
      }
      if (holder === undefined) {
        const since = this.missingSince.get(room) ?? now;
        this.missingSince.set(room, since);
        if (now - since < this.options.lostAfterMs) continue;
      }
      this.options.ownerLost();
      this.lost(room, owner, holder);
    }
  }

  /**
   * This process's lease lapsed long enough for the owners to declare it gone (Leases.bury): they
   * let its tabs leave, so every tab here forwarding to another process registers again.
   */
  declaredGone(): void {
    this.log.info('cluster: this process was declared gone (its lease lapsed): its tabs forwarding elsewhere re-register', { event: 'declared-gone' });
    const forwarded = new Map<string, Route>();
    for (const route of this.routes.values()) if (route.owner !== this.leases.me) forwarded.set(`${route.room}\n${route.owner}`, route);
    for (const { room, owner } of forwarded.values()) this.lost(room, owner, undefined);
  }

  /** `room` is no longer owned by `owner`: its tabs here that registered there register again. */
  private lost(room: string, owner: string, holder: string | undefined): void {
    this.missingSince.delete(room);
    this.log.info(`cluster: room=${room} lost its owner ${owner}${holder ? ` to ${holder}` : ''}: its tabs here re-register`, { event: 'owner-lost', room });
    for (const [id, route] of this.routes) {
      if (route.room !== room || route.owner !== owner) continue;
      this.routes.delete(id);
      // A join or rejoin on its way goes to the next owner; any other tab must re-register. A
      // transport closed, not a disconnect by the server: the tab reconnects and re-registers.
      if (!this.routeAgain(id)) route.socket.conn.close();
    }
  }

  private async route(conn: Connection, event: string, args: unknown[], next: (err?: Error) => void): Promise<void> {
    const { socket } = conn;
    const named = event === 'room:join' || event === 'room:rejoin' ? joinedRoomName(args[0]) : undefined;
    const prior = this.routes.get(socket.id);
    const room = named ?? prior?.room;
    if (room === undefined) return next();
    let owner: string;
    try {
      if (named === undefined) {
        // Any other event belongs to the owner its tab registered with (this one renews its lease).
        const holder = prior!.owner === this.leases.me ? await this.leases.owner(room) : await this.leases.holder(room);
        if (socket.connected) this.pass(conn, prior!, holder, event, args, next);
        return;
      }
      // Only a join or a rejoin may claim a room: it brings the tab's membership to its new owner.
      owner = await this.leases.owner(room);
    } catch (err) {
      this.unavailable(args, room, err);
      return;
    }
    if (!socket.connected) return;
    // A tab that joins or claims another room, or the same one at a new owner, is gone for the old
    // owner (which would otherwise hang it up when it idles there).
    if (prior && prior.owner !== this.leases.me && (prior.room !== room || prior.owner !== owner)) {
      this.forward(prior, conn, 'disconnect', ['moved to another room']);
    }
    this.routes.set(socket.id, { room, owner, socket });
    if (owner === this.leases.me) return next();
    // Whatever this process held for the tab goes: the owner holds it from now on, idle timer included.
    conn.leave('rejoin');
    conn.handedOver();
    this.forward({ room, owner, socket }, conn, event, args, () => this.queues.run(socket.id, () => this.route(conn, event, args, next)));
  }

  /** Hands a registered tab's event to the owner it registered with, if that is who holds the room now. */
  private pass(conn: Connection, route: Route, holder: string | undefined, event: string, args: unknown[], next: (err?: Error) => void): void {
    if (holder === route.owner) {
      // Owned here, and surely still (the renewal's answer may have come late).
      if (holder === this.leases.me) return this.leases.holds(route.room) ? next() : this.unavailable(args, route.room, new Error('its lease lapsed while renewing it'));
      conn.handedOver();
      return this.forward(route, conn, event, args);
    }
    // Nobody holds the key (its owner renews it soon after a Redis restart, or is gone: watch decides).
    if (holder === undefined) return this.unavailable(args, route.room, new Error(`the owner of room ${route.room} is not renewing it`));
    // The room moved: its tab is no member at the new owner until it registers there. (Owned here
    // before: the renewal forgets the room here, without a word, and hangs its tabs up.)
    if (route.owner !== this.leases.me && this.routes.get(conn.socket.id) === route) {
      this.options.ownerLost();
      this.lost(route.room, route.owner, holder);
    }
  }

  /** Routes the tab's unanswered joins and rejoins again; false if it has none. */
  private routeAgain(socket: string): boolean {
    const pending = [...this.calls].filter(([, call]) => call.socket === socket && call.again);
    for (const [id, call] of pending) {
      clearTimeout(call.timer);
      this.calls.delete(id);
      call.again!();
    }
    return pending.length > 0;
  }

  private forward(route: Route, conn: Connection, event: string, args: unknown[], again?: () => void): void {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (result: Ack<unknown>) => void) : undefined;
    let call: number | undefined;
    if (ack) {
      call = this.nextCall++;
      const id = call;
      const timer = setTimeout(() => {
        this.calls.delete(id);
        ack({ ok: false, error: { name: 'InternalError', message: `the server process of room ${route.room} did not answer; try again` } });
      }, this.options.answerWithinMs);
      this.calls.set(id, { socket: conn.socket.id, ack, timer, again });
    }
    this.options.forwarded();
    this.io.serverSideEmit(FORWARD, {
      to: route.owner, from: this.leases.me, socket: conn.socket.id, address: conn.address, room: route.room, event,
      args: ack ? args.slice(0, -1) : args, ...(call === undefined ? {} : { call }),
    });
  }

  /** Redis is unreachable: the tab hears so (and retries, as after a lost connection). */
  private unavailable(args: unknown[], room: string, err: unknown): void {
    this.log.error(`cluster: cannot route room=${room}: ${err instanceof Error ? err.message : String(err)}`, { event: 'cluster', room });
    const last = args.at(-1);
    if (typeof last === 'function') (last as (result: Ack<unknown>) => void)({ ok: false, error: { name: 'InternalError', message: 'the room service is unavailable; try again' } });
  }
}
