/**
 * Several server processes behind one address, sharing rooms through Redis: socket.io's Redis
 * streams adapter carries what a room's owner sends to tabs connected elsewhere, and the messages
 * between processes; leases in Redis say which process owns each room. Every room lives in one
 * process's registry (its owner), exactly as on a single server; the other processes forward its
 * tabs' events there (router.ts) and the owner runs them on stand-ins of those sockets
 * (remote-members.ts). docs/ARCHITECTURE.md, "Several server processes", has the whole design.
 */
import { randomBytes } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Gauge, Counter } from 'prom-client';
import { ConfigError, errorMessage } from '@tabswarm/shared/protocol';
import type { Connection, ServerContext, TabServer } from '../connection.ts';
import { finishRebuild } from '../rejoin-handlers.ts';
import { handleDroppedPublishes } from './dropped-publishes.ts';
import { Leases } from './leases.ts';
import { FORWARD, REPLY, type ClusterServer } from './messages.ts';
import { RemoteMembers } from './remote-members.ts';
import { Router } from './router.ts';

export interface ClusterOptions {
  /** Redis, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** A room owner's and a process's lease: a killed process's rooms move after about this long. @default 3000 */
  leaseMs?: number;
  /** Leases are renewed, and owners and processes checked, this often. @default 1000 */
  renewMs?: number;
}

export interface Cluster {
  /** Connected to Redis, the adapter in place: rejects (ConfigError) if Redis cannot be reached. */
  readonly ready: Promise<void>;
  /** Routes a local tab's events to its room's owner. */
  attach(conn: Connection): void;
  /**
   * Gives up this process's rooms (their next event claims them elsewhere at once) and leaves
   * Redis. Its own lease expires by itself, so the owners keep its tabs until they reconnect.
   */
  close(): Promise<void>;
}

const CONNECT_WITHIN_MS = 5000;

/** `handle`: installs the socket handlers on a connection, as server.ts does for local sockets. */
export function startCluster(io: TabServer, context: ServerContext, options: ClusterOptions, handle: (conn: Connection) => void): Cluster {
  const leaseMs = positive('leaseMs', options.leaseMs ?? 3000);
  const renewMs = positive('renewMs', options.renewMs ?? 1000);
  if (renewMs * 2 > leaseMs) throw new ConfigError(`renewMs (${renewMs}) must be at most half of leaseMs (${leaseMs})`);
  const { log, registry } = context;
  // A lease missing this long is gone: past its holder's next renewal (after a Redis restart every key is missing until then).
  const graceMs = Math.ceil(renewMs * 1.5);
  const cio = io as unknown as ClusterServer;
  let lastRedisError = 0;
  const redisError = (err: unknown): void => {
    if (Date.now() - lastRedisError < 10_000) return;
    lastRedisError = Date.now();
    log.error(`cluster: Redis at ${options.url}: ${errorMessage(err)}`, { event: 'redis' });
  };
  const redis = handleDroppedPublishes(createClient({ url: options.url, socket: { reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) } }), redisError);
  redis.on('error', redisError);
  const leases = new Leases(redis, randomBytes(8).toString('hex'), leaseMs);
  const forwarded = new Counter({ name: 'tabswarm_cluster_forwarded_total', help: 'Events of tabs connected here forwarded to their room\'s owner process.', registers: [context.metrics.registry] });
  const ownersLost = new Counter({ name: 'tabswarm_cluster_owners_lost_total', help: 'Rooms whose owner process was lost while tabs here were in them.', registers: [context.metrics.registry] });
  const router = new Router(cio, leases, log, {
    answerWithinMs: 20_000,
    lostAfterMs: graceMs,
    forwarded: () => forwarded.inc(),
    closing: () => context.closing,
    ownerLost: () => ownersLost.inc(),
  });
  const remote = new RemoteMembers(cio, context, leases, { handle, holds: (room) => registry.snapshot(room) !== undefined });
  new Gauge({ name: 'tabswarm_cluster_rooms_owned', help: 'Rooms this process owns (all of tabswarm_rooms).', registers: [context.metrics.registry], collect() { this.set(registry.size); } });
  new Gauge({ name: 'tabswarm_cluster_rooms_connected', help: 'Rooms with a tab connected to this process, wherever owned.', registers: [context.metrics.registry], collect() { this.set(router.rooms); } });
  new Gauge({ name: 'tabswarm_cluster_remote_members', help: 'Members of rooms owned here connected to other processes.', registers: [context.metrics.registry], collect() { this.set(remote.members); } });

  /** A room this process owned moved to `owner`: forget it without a word; its tabs re-register there. */
  function dropRoom(room: string, owner: string): void {
    log.info(`cluster: room=${room} is owned by ${owner} now: forgotten here, its tabs re-register`, { event: 'owner-lost', room });
    const local: Connection[] = [];
    const waiting = context.rebuilds.close(room);
    for (const [peerId, registrant] of waiting?.registrants ?? []) {
      registrant.conn.pending = undefined;
      registry.withdraw(room, peerId);
      local.push(registrant.conn);
    }
    for (const peerId of registry.snapshot(room)?.members ?? []) {
      const conn = context.members.get(peerId);
      context.members.delete(peerId);
      registry.leave(room, peerId);
      if (!conn) continue;
      conn.membership = undefined;
      local.push(conn);
    }
    for (const conn of local) {
      if (remote.has(conn)) remote.forget(conn);
      else conn.socket.conn.close();
    }
  }

  // Rooms whose decisions waited for a renewal to prove the lease again (this process stalled past it).
  const unproven = new Set<string>();
  context.authority = { holds: (room) => leases.holds(room), lost: (room) => unproven.add(room) };

  /** The lease of `room` is proven again: what waited is announced (a rebuild decided), with nobody else's decision between. */
  function settle(room: string): void {
    if (!unproven.delete(room)) return;
    if (context.rebuilds.has(room)) return finishRebuild(context, room);
    const snapshot = registry.snapshot(room);
    if (snapshot && snapshot.members.length > 0) context.announce(snapshot);
  }

  async function renew(): Promise<void> {
    if (!(await leases.beat())) router.declaredGone();
    leases.prune();
    for (const room of [...registry.all().map((r) => r.room), ...context.rebuilds.rooms()]) {
      const owner = await leases.owner(room);
      if (owner === leases.me) settle(room);
      else {
        unproven.delete(room);
        dropRoom(room, owner);
      }
    }
    await remote.dropDeadOrigins(graceMs);
  }

  const timers: Array<ReturnType<typeof setInterval>> = [];
  const every = (ms: number, task: () => Promise<void>): void => {
    let running = false;
    timers.push(setInterval(() => {
      if (running) return;
      running = true;
      task().catch((err: unknown) => log.error(`cluster: ${errorMessage(err)}`, { event: 'cluster' })).finally(() => { running = false; });
    }, ms));
  };

  const ready = (async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([redis.connect(), new Promise((_, reject) => { timer = setTimeout(() => reject(new ConfigError(`cannot reach Redis at ${options.url} within ${CONNECT_WITHIN_MS} ms`)), CONNECT_WITHIN_MS); })]);
    } catch (err) {
      redis.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // Reads block at most 1 s, so a closing server leaves Redis within a second.
    io.adapter(createAdapter(redis, { blockTimeInMs: 1000 }));
    cio.on(FORWARD, (message) => remote.receive(message));
    cio.on(REPLY, (message) => router.answer(message));
    await leases.beat();
    every(renewMs, renew);
    every(Math.max(1, Math.floor(renewMs / 2)), () => router.watch());
    log.info(`cluster: process ${leases.me} shares rooms through Redis at ${options.url}`, { event: 'cluster' });
  })();
  ready.catch(() => undefined);

  return {
    ready,
    attach: (conn) => router.attach(conn),
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      if (!redis.isOpen) return;
      const rooms = [...registry.all().map((r) => r.room), ...context.rebuilds.rooms()];
      await leases.release(rooms).catch(() => undefined);
      redis.destroy();
    },
  };
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}
