/**
 * The signaling server: introduces tabs to each other and then steps aside. It keeps room
 * membership (with epochs) and the room's run configuration, and relays WebRTC signals between
 * members of the same room; gradients and weights never pass through it.
 *
 * It holds no weights and needs none: after a restart, members re-register their rooms
 * (`room:rejoin`) and it rebuilds them from what they report (room-rebuild.ts). Shutting down, it
 * tells no member that the others left, so nobody is left training alone.
 *
 * This file only composes the parts: the room registry (room-registry.ts, no sockets), one
 * handler module per event family (room, rejoin, relay, resync), the ack plumbing (respond.ts),
 * the per-socket rate limit and the HTTP routes. socket.io rooms are used for the broadcasts only.
 */
import type { Server as HttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { ConfigError, type RunConfig, type ClientToServerEvents, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import { Connection, ServerContext, type Logger, type TabSocket } from './connection.ts';
import { serveHttpRoutes } from './http-routes.ts';
import { rateLimiter } from './rate-limit-middleware.ts';
import { RebuildWindows } from './rebuild-windows.ts';
import { handleRejoinEvents } from './rejoin-handlers.ts';
import { handleRelayEvents } from './relay-handlers.ts';
import { handleResyncEvents } from './resync-handlers.ts';
import { checkIceOptions, type IceOptions } from './ice-servers.ts';
import { handleRoomEvents } from './room-handlers.ts';
import { RoomRegistry, type RoomSnapshot } from './room-registry.ts';

export type { Logger } from './connection.ts';
export type { RoomSnapshot } from './room-registry.ts';
export type { IceOptions, TurnOptions } from './ice-servers.ts';

/** Largest socket.io message: relayed signals are capped far lower, so this only stops abuse. */
export const MAX_MESSAGE_BYTES = 1_000_000;

export interface SignalingOptions {
  /**
   * The configuration a new room starts from; the first joiner's `config` keys override it.
   * @default DEFAULT_CONFIG
   */
  defaultConfig?: Readonly<RunConfig>;
  /**
   * Directory of the built client, served over plain HTTP.
   * @default `client/dist` of this repository, resolved relative to this file
   */
  staticDir?: string;
  /** @default 64 */
  maxMembersPerRoom?: number;
  /** @default 1000 */
  maxRooms?: number;
  /**
   * A member that the majority of reporters blamed (`room:resync` naming it) in each of the last
   * this many failed epochs is removed from the room and told so with `room:evicted`; it may join
   * again. With two members there is no majority: nobody is evicted.
   * @default 3
   */
  evictAfter?: number;
  /**
   * How long a room this server does not know (it restarted) waits for the registrations of the
   * members its first registrants list before it is rebuilt without those missing.
   * @default 5000
   */
  rebuildWindowMs?: number;
  /**
   * Per-socket event budget: `burst` events at once, `perSecond` sustained; the rest are dropped.
   * @default { burst: 200, perSecond: 100 }
   */
  rateLimit?: { burst: number; perSecond: number };
  /**
   * STUN and TURN servers handed to every member in its join and rejoin answers, TURN with
   * credentials of its own (ice-servers.ts). Tabs on one network need none.
   * @default no ICE servers
   */
  ice?: IceOptions;
  /**
   * Receives one line per join, leave, report and error.
   * @default console.log / console.error
   */
  log?: Logger;
}

export interface SignalingServer {
  /** The current rooms, for tests and diagnostics. */
  rooms(): RoomSnapshot[];
  /** Disconnects every tab and closes the socket.io server and the HTTP server it is attached to. */
  close(): Promise<void>;
}

const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../client/dist', import.meta.url));

const consoleLogger: Logger = {
  info: (line) => console.log(line),
  error: (line) => console.error(line),
};

/**
 * Attaches the signaling server to `httpServer`, which should have no request handler of its own:
 * every request outside /socket.io/ is answered here (/healthz, then the static client). Throws
 * ConfigError for caps or rate limits that are not positive integers, or ICE servers that are wrong.
 */
export function createSignalingServer(httpServer: HttpServer, options: SignalingOptions = {}): SignalingServer {
  const registry = new RoomRegistry(options);
  const rebuildWindowMs = options.rebuildWindowMs ?? 5000;
  if (!Number.isInteger(rebuildWindowMs) || rebuildWindowMs < 1) throw new ConfigError(`rebuildWindowMs must be a positive integer, got ${rebuildWindowMs}`);
  const limitRate = rateLimiter(options.rateLimit ?? { burst: 200, perSecond: 100 });
  const log = options.log ?? consoleLogger;
  const ice = options.ice ?? {};
  checkIceOptions(ice);

  // Before socket.io attaches, so engine.io passes on every request outside /socket.io/.
  serveHttpRoutes(httpServer, { staticDir: options.staticDir ?? DEFAULT_STATIC_DIR, roomCount: () => registry.size, log });

  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // The client bundles socket.io-client itself.
    serveClient: false,
  });
  const context = new ServerContext(io, registry, new RebuildWindows(rebuildWindowMs), log, ice);

  io.on('connection', (socket: TabSocket) => {
    const conn = new Connection(socket, context);
    limitRate(conn);
    handleRoomEvents(conn);
    handleRejoinEvents(conn);
    handleRelayEvents(conn);
    handleResyncEvents(conn);
  });

  return {
    rooms: () => registry.all(),
    close: async () => {
      context.closing = true;
      context.rebuilds.clear();
      await io.close();
      registry.clear();
      context.members.clear();
    },
  };
}
