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
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { ConfigError, type ModelFileLimits, type RunConfig, type ClientToServerEvents, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import { AdminToken } from './admin-token.ts';
import { Admission } from './admission.ts';
import { AddressBudgets } from './address-budget.ts';
import { binaryRefusingParser } from './binary-refusing-parser.ts';
import { clientAddress } from './client-address.ts';
import { startCluster, type ClusterOptions } from './cluster/cluster.ts';
import { Connection, ServerContext, type TabSocket } from './connection.ts';
import type { ConfigPolicy } from './config-policy.ts';
import { serveHttpRoutes } from './http-routes.ts';
import { jsonLogger, type Logger } from './log.ts';
import { ServerMetrics } from './metrics.ts';
import { checkBudget, rateLimiter, type RateLimit } from './rate-limit-middleware.ts';
import { RebuildWindows } from './rebuild-windows.ts';
import { handleRejoinEvents } from './rejoin-handlers.ts';
import { handleRelayEvents } from './relay-handlers.ts';
import { handleResyncEvents } from './resync-handlers.ts';
import { checkIceOptions, type IceOptions } from './ice-servers.ts';
import { ModelStore, type StoredModel } from './model-store.ts';
import { Organiser } from './organiser.ts';
import type { OrganiseRoutes } from './organise-routes.ts';
import { handleRoomEvents } from './room-handlers.ts';
import { RoomRegistry, type RoomRegistryOptions, type RoomSnapshot } from './room-registry.ts';
import { dropUnstartedRooms } from './unstarted-rooms.ts';
import { RoomsFile } from './rooms-file.ts';
import { Tickets } from './tickets.ts';

export type { Logger } from './log.ts';
export type { RoomSnapshot } from './room-registry.ts';
export type { ConfigPolicy } from './config-policy.ts';
export type { IceOptions, TurnOptions } from './ice-servers.ts';
export type { ClusterOptions } from './cluster/cluster.ts';

/**
 * Largest socket.io message: the largest real one is a relayed signal (MAX_SIGNAL_BYTES, 64 KiB,
 * of JSON) in its envelope; a rejoin listing 64 members and 256 known peers is far smaller.
 * Anything longer closes the connection before it is decoded.
 */
export const MAX_MESSAGE_BYTES = 96 * 1024;

export interface SignalingOptions extends Pick<RoomRegistryOptions, 'maxMembersPerAddress' | 'maxRoomsPerAddress' | 'evictionCooldownMs' | 'resyncWindowMs' | 'soloResyncMs' | 'resyncBudget' | 'openRooms'> {
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
   * A member that more than half of the other members blamed (`room:resync` naming it) in each of
   * the last this many failed epochs is removed from the room and told so with `room:evicted`; it
   * may join again. With two members nobody is evicted.
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
  rateLimit?: RateLimit;
  /** Per-address event budget, over all its sockets. @default { burst: 2000, perSecond: 400 } */
  addressRateLimit?: RateLimit;
  /** Per-address byte budget, over all its sockets. @default { burst: 8 MiB, perSecond: 2 MiB } */
  addressByteLimit?: RateLimit;
  /** Signals one member may relay to one other. @default { burst: 200, perSecond: 50 } */
  relayPairLimit?: RateLimit;
  /** Open connections, in total. @default 5000 */
  maxConnections?: number;
  /** Open connections per client address. @default 64 */
  maxConnectionsPerAddress?: number;
  /** A socket that joins no room within this long is disconnected. @default 10000 */
  joinWithinMs?: number;
  /** A room whose membership never reaches its `workers` within this long is closed. @default 600000 */
  roomStartMs?: number;
  /** Origins whose pages may connect (`https://example.org`); empty: the server's own origin only. @default [] */
  allowedOrigins?: readonly string[];
  /** Behind a reverse proxy: the client address is the last of X-Forwarded-For. @default false */
  trustProxy?: boolean;
  /** The server's cost budget for room configurations (config-policy.ts). */
  policy?: Partial<Omit<ConfigPolicy, 'maxWorkers'>>;
  /** With a key (at least 16 bytes), every room needs a join ticket (tickets.ts). */
  ticketKey?: string | Buffer;
  /**
   * STUN and TURN servers handed to every member in its join and rejoin answers, TURN with
   * credentials of its own (ice-servers.ts). Tabs on one network need none.
   * @default no ICE servers
   */
  ice?: IceOptions;
  /**
   * Share rooms with the other server processes on the same Redis (cluster/cluster.ts): tabs
   * behind one address may reach any of them.
   * @default alone, no Redis
   */
  cluster?: ClusterOptions;
  /**
   * Organised rooms opened at start: each `config` over `defaultConfig` (within the policy),
   * fixed for the server's life; joiners' keys are ignored there, and the room stays when empty.
   * @default none
   */
  rooms?: ReadonlyArray<{ room: string; config?: Record<string, unknown> }>;
  /** Model files served to tabs from the start (`--model-file`; model-store.ts), each a room's `task`. @default none */
  models?: readonly StoredModel[];
  /** Limits of a model file (`--max-model-bytes`, `--max-model-params`), for uploads on the organiser page. @default DEFAULT_MODEL_FILE_LIMITS */
  modelLimits?: ModelFileLimits;
  /**
   * Keeps the rooms made on the organiser page in this JSON file (rooms-file.ts) and opens those it
   * holds at start, after `rooms` (a name in both is `rooms`'s). @default they live in memory only
   */
  roomsFile?: string;
  /**
   * Opens the organiser page (`/organise`) and its API to whoever presents this token (at least
   * 16 characters). Without one they answer 404.
   */
  adminToken?: string;
  /**
   * Receives one line per join, leave, report and error, with its fields.
   * @default JSON lines on stdout (pino) at level info
   */
  log?: Logger;
}

export interface SignalingServer {
  /** Ready to take tabs: at once alone; in a cluster once Redis answers (rejects if it cannot be reached). */
  readonly ready: Promise<void>;
  /** The current rooms (in a cluster, those this process owns), for tests and diagnostics. */
  rooms(): RoomSnapshot[];
  /** Disconnects every tab and closes the socket.io server and the HTTP server it is attached to. */
  close(): Promise<void>;
}

const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../client/dist', import.meta.url));

/**
 * Attaches the signaling server to `httpServer`, which should have no request handler of its own:
 * every request outside /socket.io/ is answered here (/healthz, then the static client). Throws
 * ConfigError for caps or rate limits that are not positive integers, or ICE servers that are wrong.
 */
export function createSignalingServer(httpServer: HttpServer, options: SignalingOptions = {}): SignalingServer {
  const registry = new RoomRegistry(options);
  const rebuildWindowMs = positive('rebuildWindowMs', options.rebuildWindowMs ?? 5000);
  const joinWithinMs = positive('joinWithinMs', options.joinWithinMs ?? 10_000);
  const roomStartMs = positive('roomStartMs', options.roomStartMs ?? 600_000);
  const trustProxy = options.trustProxy ?? false;
  const addresses = new AddressBudgets(
    checkBudget('addressRateLimit', options.addressRateLimit ?? { burst: 2000, perSecond: 400 }),
    checkBudget('addressByteLimit', options.addressByteLimit ?? { burst: 8 * 1024 * 1024, perSecond: 2 * 1024 * 1024 }),
  );
  const limitRate = rateLimiter(options.rateLimit ?? { burst: 200, perSecond: 100 }, addresses);
  const relayPair = checkBudget('relayPairLimit', options.relayPairLimit ?? { burst: 200, perSecond: 50 });
  const tickets = options.ticketKey === undefined ? undefined : new Tickets(options.ticketKey);
  const log = options.log ?? jsonLogger();
  const metrics = new ServerMetrics({ rooms: () => registry.size, members: () => registry.all().reduce((sum, r) => sum + r.members.length, 0) });
  const admission = new Admission({
    allowedOrigins: options.allowedOrigins ?? [],
    maxConnections: positive('maxConnections', options.maxConnections ?? 5000),
    maxConnectionsPerAddress: positive('maxConnectionsPerAddress', options.maxConnectionsPerAddress ?? 64),
    trustProxy,
  }, (reason, address) => {
    metrics.reject(reason);
    log.debug?.(`refused a connection from ${address}: ${reason}`, { event: 'refused', reason, address });
  });
  const ice = options.ice ?? {};
  checkIceOptions(ice);

  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  const adminToken = options.adminToken === undefined ? undefined : new AdminToken(options.adminToken);
  const models = new ModelStore(options.modelLimits, options.models);
  for (const { room, config } of options.rooms ?? []) registry.organise(room, config ?? {});
  const roomsFile = options.roomsFile === undefined ? undefined : new RoomsFile(options.roomsFile);
  for (const { room, config } of roomsFile?.read() ?? []) if (!registry.snapshot(room)) registry.organise(room, { ...config });
  let organise: OrganiseRoutes | undefined;

  // Before socket.io attaches, so engine.io passes on every request outside /socket.io/.
  serveHttpRoutes(httpServer, {
    staticDir,
    metrics: async () => ({ type: metrics.registry.contentType, text: await metrics.registry.metrics() }),
    organise: () => organise,
    models,
    log,
  });

  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    allowRequest: admission.allowRequest,
    parser: binaryRefusingParser(() => metrics.reject('binary')),
    // The client bundles socket.io-client itself.
    serveClient: false,
  });
  const context = new ServerContext(io, registry, new RebuildWindows(rebuildWindowMs), log, metrics, { joinWithinMs, relayPair }, tickets, ice);
  const sweep = dropUnstartedRooms(context, roomStartMs);
  const handle = (conn: Connection): void => {
    handleRoomEvents(conn);
    handleRejoinEvents(conn);
    handleRelayEvents(conn);
    handleResyncEvents(conn);
  };
  const cluster = options.cluster && startCluster(io, context, options.cluster, handle);
  if (adminToken) organise = { token: adminToken, organiser: new Organiser(context, models, roomsFile), models, staticDir, trustProxy, log };

  // Counted at the engine.io handshake, in the same tick as allowRequest, so a burst of
  // handshakes cannot slip past the caps before the first socket.io connection is counted.
  io.engine.on('connection', (rawSocket: { request: IncomingMessage; once(event: 'close', listener: () => void): void }) => {
    rawSocket.once('close', admission.opened(clientAddress(rawSocket.request, trustProxy)));
  });

  io.on('connection', (socket: TabSocket) => {
    const address = clientAddress(socket.request, trustProxy);
    const closeBudget = addresses.opened(address);
    metrics.connections.inc();
    socket.on('disconnect', () => {
      closeBudget();
      metrics.connections.dec();
    });
    const conn = new Connection(socket, context, address);
    limitRate(conn);
    cluster?.attach(conn);
    handle(conn);
  });

  return {
    ready: cluster?.ready ?? Promise.resolve(),
    rooms: () => registry.all(),
    close: async () => {
      context.closing = true;
      clearInterval(sweep);
      context.rebuilds.clear();
      for (const timer of context.resyncTimers.values()) clearTimeout(timer);
      context.resyncTimers.clear();
      await io.close();
      await cluster?.close();
      registry.clear();
      context.members.clear();
    },
  };
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}
