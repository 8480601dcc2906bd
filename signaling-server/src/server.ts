/**
 * The signaling server: introduces tabs to each other and then steps aside. It keeps room
 * membership (with epochs) and the room's run configuration, and relays WebRTC signals between
 * members of the same room; gradients and weights never pass through it.
 *
 * Room state lives in a registry owned by this instance, not in socket.io's adapter: the epoch
 * and the config need one owner that changes them synchronously with membership. socket.io rooms
 * are still used for the broadcasts.
 */
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Server, type Socket } from 'socket.io';
import { errorMessage, DEFAULT_CONFIG, parseRunConfig, type RunConfig, type Ack, type AckCallback, type ClientToServerEvents, type ErrorPayload, type JoinResult, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import { parseJoinRequest, parseRelayRequest, parseReportRequest, parseResyncRequest, ProtocolError } from './payloads.ts';
import { TokenBucket } from './rate-limit.ts';
import { sendText, serveStatic } from './static-files.ts';

/** Largest socket.io message: relayed signals are capped far lower, so this only stops abuse. */
export const MAX_MESSAGE_BYTES = 1_000_000;
/** At most one RateLimitError notice per socket per this many milliseconds. */
const RATE_LIMIT_NOTICE_MS = 1000;

export interface Logger {
  info(line: string): void;
  error(line: string): void;
}

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
   * Per-socket event budget: `burst` events at once, `perSecond` sustained; the rest are dropped.
   * @default { burst: 200, perSecond: 100 }
   */
  rateLimit?: { burst: number; perSecond: number };
  /**
   * Receives one line per join, leave, report and error.
   * @default console.log / console.error
   */
  log?: Logger;
}

export interface RoomSnapshot {
  room: string;
  epoch: number;
  members: string[];
  config: RunConfig;
}

export interface SignalingServer {
  /** The current rooms, for tests and diagnostics. */
  rooms(): RoomSnapshot[];
  /** Disconnects every tab and closes the socket.io server and the HTTP server it is attached to. */
  close(): Promise<void>;
}

type TabSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

interface Room {
  name: string;
  epoch: number;
  config: RunConfig;
  members: Map<string, TabSocket>;
  /** The last failed epochs, with who blamed whom (suspect -> reporters). */
  failures: Array<{ epoch: number; reporters: Set<string>; votes: Map<string, Set<string>> }>;
}

const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../client/dist', import.meta.url));

const consoleLogger: Logger = {
  info: (line) => console.log(line),
  error: (line) => console.error(line),
};

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Unguessable, so knowing a room's name does not let anyone impersonate its members. */
function newPeerId(): string {
  return randomBytes(16).toString('hex');
}

function sortedMembers(room: Room): string[] {
  return [...room.members.keys()].sort();
}

/** socket.io room of a tabswarm room; the prefix keeps user-chosen names apart from socket ids. */
function channel(room: string): string {
  return `room:${room}`;
}

/**
 * Attaches the signaling server to `httpServer`, which should have no request handler of its own:
 * every request outside /socket.io/ is answered here (/healthz, then the static client).
 */
export function createSignalingServer(httpServer: HttpServer, options: SignalingOptions = {}): SignalingServer {
  const defaultConfig = options.defaultConfig ?? DEFAULT_CONFIG;
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  const maxMembersPerRoom = positiveInteger('maxMembersPerRoom', options.maxMembersPerRoom ?? 64);
  const maxRooms = positiveInteger('maxRooms', options.maxRooms ?? 1000);
  const evictAfter = positiveInteger('evictAfter', options.evictAfter ?? 3);
  /** How to remove a member from outside its own connection (eviction), by peer id. */
  const evictors = new Map<string, (reason: string) => void>();
  const { burst, perSecond } = options.rateLimit ?? { burst: 200, perSecond: 100 };
  positiveInteger('rateLimit.burst', burst);
  positiveInteger('rateLimit.perSecond', perSecond);
  const log = options.log ?? consoleLogger;
  const rooms = new Map<string, Room>();

  // Registered before socket.io attaches: engine.io then hands us every request not under /socket.io/.
  httpServer.on('request', (req, res) => {
    if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) {
      sendText(res, 200, JSON.stringify({ ok: true, rooms: rooms.size }), 'application/json; charset=utf-8');
      return;
    }
    serveStatic(staticDir, req, res).catch((err: unknown) => {
      log.error(`static url=${JSON.stringify(req.url)} ${errorMessage(err)}`);
      if (!res.headersSent) sendText(res, 500, 'internal server error\n');
      else res.destroy();
    });
  });

  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // The client bundles socket.io-client itself.
    serveClient: false,
  });

  function announce(room: Room): void {
    io.to(channel(room.name)).emit('room:members', { room: room.name, epoch: room.epoch, members: sortedMembers(room) });
  }

  io.on('connection', (socket: TabSocket) => {
    let current: { room: Room; peerId: string } | undefined;
    const who = (): string => (current ? `room=${current.room.name} peer=${current.peerId}` : `socket=${socket.id}`);

    const bucket = new TokenBucket(burst, perSecond);
    let dropped = 0;
    let lastNotice = -Infinity;
    socket.use((_packet, next) => {
      if (bucket.take()) return next();
      // Dropped without an answer: a flooding client gets no ack, only an occasional notice.
      dropped += 1;
      const now = performance.now();
      if (now - lastNotice < RATE_LIMIT_NOTICE_MS) return;
      lastNotice = now;
      const message = `too many events: ${dropped} dropped (limit ${perSecond}/s, burst ${burst})`;
      log.error(`error ${who()} RateLimitError: ${message}`);
      socket.emit('server:error', { name: 'RateLimitError', message });
      dropped = 0;
    });

    /**
     * Runs one event's handler and answers it: through the ack if the client sent one, else
     * failures go out as `server:error`. Never throws, so no event can take the server down.
     */
    function respond<T>(event: string, args: unknown[], handler: (payload: unknown) => T): Ack<T> {
      const last = args.at(-1);
      const ack = typeof last === 'function' ? (last as AckCallback<T>) : undefined;
      let result: Ack<T>;
      try {
        // The payload is the first argument, unless that is the ack itself.
        result = { ok: true, data: handler(args.length > 1 || !ack ? args[0] : undefined) };
      } catch (err) {
        result = { ok: false, error: toErrorPayload(event, err) };
      }
      if (ack) ack(result);
      else if (!result.ok) socket.emit('server:error', result.error);
      return result;
    }

    function toErrorPayload(event: string, err: unknown): ErrorPayload {
      if (err instanceof ProtocolError || (err instanceof Error && err.name === 'ConfigError')) {
        log.error(`error ${who()} event=${event} ${err.name}: ${err.message}`);
        return { name: err.name, message: err.message };
      }
      log.error(`error ${who()} event=${event} InternalError: ${err instanceof Error ? err.stack : String(err)}`);
      return { name: 'InternalError', message: 'internal server error' };
    }

    function leave(reason: string): void {
      if (!current) return;
      const { room, peerId } = current;
      current = undefined;
      evictors.delete(peerId);
      room.members.delete(peerId);
      room.epoch += 1;
      void socket.leave(channel(room.name));
      log.info(`leave room=${room.name} peer=${peerId} epoch=${room.epoch} members=${room.members.size} reason=${reason}`);
      // An empty room is forgotten, so the next tab to join starts a new run with its own config.
      if (room.members.size === 0) rooms.delete(room.name);
      else announce(room);
    }

    function join(payload: unknown): JoinResult {
      const request = parseJoinRequest(payload);
      // A failed join below leaves the tab in no room, which is the simplest state to reason about.
      leave('rejoin');
      let room = rooms.get(request.room);
      if (!room) {
        if (rooms.size >= maxRooms) throw new ProtocolError('TooManyRoomsError', `the server holds ${maxRooms} rooms already`);
        const config = parseRunConfig(request.config ?? {}, defaultConfig);
        room = { name: request.room, epoch: 0, config, members: new Map(), failures: [] };
        rooms.set(room.name, room);
      } else if (room.members.size >= maxMembersPerRoom) {
        throw new ProtocolError('RoomFullError', `room ${room.name} has ${maxMembersPerRoom} members already`);
      }
      const peerId = newPeerId();
      room.members.set(peerId, socket);
      evictors.set(peerId, (reason) => {
        leave(`evicted: ${reason}`);
        socket.emit('room:evicted', { room: room.name, reason });
      });
      room.epoch += 1;
      void socket.join(channel(room.name));
      current = { room, peerId };
      const name = request.name === undefined ? '' : ` name=${JSON.stringify(request.name)}`;
      log.info(`join room=${room.name} peer=${peerId} epoch=${room.epoch} members=${room.members.size}${name}`);
      return { peerId, room: room.name, config: room.config, epoch: room.epoch, members: sortedMembers(room) };
    }

    function member(): { room: Room; peerId: string } {
      if (!current) throw new ProtocolError('NotInRoomError', 'join a room first');
      return current;
    }

    socket.on('room:join', (...args: unknown[]) => {
      const result = respond('room:join', args, join);
      // After the ack, so the joiner knows its peer id before it sees the membership.
      if (result.ok && current) announce(current.room);
    });

    socket.on('signal:relay', (...args: unknown[]) => {
      respond('signal:relay', args, (payload) => {
        const { to, data } = parseRelayRequest(payload);
        const { room, peerId } = member();
        const target = room.members.get(to);
        if (!target) throw new ProtocolError('PeerNotFoundError', `no peer ${to} in room ${room.name}`);
        target.emit('signal', { from: peerId, data });
        return null;
      });
    });

    socket.on('room:leave', () => leave('request'));

    socket.on('room:resync', (...args: unknown[]) => {
      respond('room:resync', args, (payload) => {
        const { epoch, suspect } = parseResyncRequest(payload);
        const { room, peerId } = member();
        let failure = room.failures.find((f) => f.epoch === epoch);
        if (!failure) {
          if (epoch !== room.epoch) return null; // stale, and not a failure we track
          failure = { epoch, reporters: new Set(), votes: new Map() };
          room.failures = [...room.failures, failure].slice(-evictAfter);
          // The first report of a failed epoch starts the next one at once; later reports only vote.
          room.epoch += 1;
          log.info(`resync room=${room.name} peer=${peerId} epoch=${room.epoch} members=${room.members.size}`);
          announce(room);
        }
        failure.reporters.add(peerId);
        if (suspect !== undefined && suspect !== peerId && room.members.has(suspect)) {
          const voters = failure.votes.get(suspect) ?? new Set<string>();
          failure.votes.set(suspect, voters.add(peerId));
          const blamedEachTime = room.failures.length >= evictAfter
            && room.failures.every((f) => 2 * (f.votes.get(suspect)?.size ?? 0) > f.reporters.size && f.reporters.size > 1);
          if (blamedEachTime) {
            log.info(`evict room=${room.name} peer=${suspect}: blamed by the majority in ${evictAfter} failed epochs`);
            room.failures = [];
            evictors.get(suspect)?.(`blamed by the majority for ${evictAfter} failed steps in a row`);
          }
        }
        return null;
      });
    });

    socket.on('room:report', (...args: unknown[]) => {
      respond('room:report', args, (payload) => {
        const { text } = parseReportRequest(payload);
        const { room, peerId } = member();
        log.info(`report room=${room.name} peer=${peerId} text=${JSON.stringify(text)}`);
        return null;
      });
    });

    socket.on('disconnect', (reason) => leave(`disconnect (${reason})`));
  });

  return {
    rooms: () =>
      [...rooms.values()].map((room) => ({
        room: room.name,
        epoch: room.epoch,
        members: sortedMembers(room),
        config: { ...room.config },
      })),
    close: async () => {
      await io.close();
      rooms.clear();
    },
  };
}
