/**
 * The socket.io protocol between a tab and the signaling server, shared by both sides
 * (`Server<ClientToServerEvents, ServerToClientEvents>` in the server, `Socket<ServerToClientEvents,
 * ClientToServerEvents>` in the client). Types, plain constants and the mapping of error payloads
 * back to named errors: no socket.io values.
 *
 * Membership contract:
 * - A peer id names one membership: every `room:join` yields a fresh id, also when the same socket
 *   joins again. (A member that lost its connection keeps its id through `room:rejoin`, below.)
 *   Ids are random lowercase hex; ring order is `members` as sent (sorted by code unit, i.e.
 *   plain `Array.prototype.sort()`).
 * - A room's epoch grows by exactly 1 on every join and every leave (disconnects included), and
 *   `room:members` is broadcast to the whole room, the joiner included, after each change. The
 *   joiner's ack arrives first and carries the same epoch as the `room:members` that follows it,
 *   so a client may ignore any `room:members` whose epoch is not above the last one it saw. A
 *   rejoin and a rebuild may move it further (above the epoch the member reports), never back.
 * - A server shutting down announces no leaves: its members keep their membership for the next.
 * - The room's run configuration is fixed by its first joiner and lives until the room empties.
 *   An organised room (the server's `--room`, or made on its organiser page) has the
 *   configuration the organiser gave it, takes no joiner's keys and outlives its members.
 *
 * Rejoin contract (the server may restart; the room's real state lives in its members):
 * - `room:join` hands each member a secret `token`. A member that reconnects presents
 *   `room:rejoin` {room, peerId, token, config, epoch, members, step, hash} and keeps its peer id,
 *   so the WebRTC mesh (keyed by peer id) survives the server.
 * - A live room lets the claimant in again (a late joiner, the epoch grows by 1); an id held by
 *   another connection, or known with another token, is refused with PeerIdTakenError.
 * - A room the server does not know (it restarted) is rebuilt from the registrations it gets
 *   within a short window (closed early once every member any registrant lists in its view or
 *   `known` is back): the first opens it, every ack waits for the decision. The members are
 *   the registrants; the epoch is the one they all report if nothing changed, else above every
 *   epoch reported; the config is the winning registrant's. If registrants trained apart (forks:
 *   their views list different members), the view most of them share wins and the others get
 *   `adopt: true`: they drop their state and catch up by state transfer.
 * - Trust: a restarted server cannot check a token it did not issue; it accepts the claim of any
 *   id it does not currently hold and whose token it never saw, and from then on knows that token.
 */
import type { RunConfig } from '../train/config.ts';
import type { ConfigCost } from '../train/config-cost.ts';
import { ConfigError, InternalError, ModelFileError, NotInRoomError, PeerIdTakenError, PeerNotFoundError, RateLimitError, RoomFullError, SignalingError, TicketError, TooManyRoomsError, UnknownRoomError, ValidationError, type TabswarmError } from '../errors.ts';

/** Room names: short, URL-safe, so they can come straight from `?room=`. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest display name a tab may give. */
export const MAX_NAME_LENGTH = 64;
/** Largest relayed signal, as UTF-8 JSON: SDP offers with many candidates stay far below this. */
export const MAX_SIGNAL_BYTES = 64 * 1024;
/** Longest status text of `room:report`; it only goes to the server's log. */
export const MAX_REPORT_LENGTH = 256;
/** Longest backend name in a progress report (`webgl`, `wasm`, `cpu`, `tensorflow`). */
export const MAX_BACKEND_NAME_LENGTH = 32;
/** How often a member reports its progress to the server (`room:report` of kind `progress`). */
export const PROGRESS_REPORT_MS = 3_000;

/**
 * Error names the server sends, in acks and in `server:error`; each is a TabswarmError class of
 * shared/src/errors.ts (SIGNALING_ERRORS below), which errorFromPayload gives back:
 * - ValidationError: a payload of the wrong shape, type or size.
 * - ConfigError: the first joiner's `config` does not parse (message names the key).
 * - NotInRoomError: `signal:relay`, `room:report` or `room:resync` before joining.
 * - PeerNotFoundError: `to` is not a member of the sender's room.
 * - PeerIdTakenError: `room:rejoin` claims an id another connection holds, or with the wrong token.
 * - RoomFullError, TooManyRoomsError: the server's caps (also those per address: memberships of one
 *   address in a room, rooms opened by one address).
 * - TicketError: the server requires join tickets and this one is missing, forged, for another
 *   room or expired.
 * - UnknownRoomError: an observer's room has no members and no finished run; or the room does not
 *   exist and the server opens none on request
 *   (`--open-rooms false`).
 * - RateLimitError: events are being dropped (sent at most once per second, never as an ack).
 * - ModelFileError: the organiser's model file is refused (its reason leads the message).
 * - InternalError: a bug in the server; the message says nothing more.
 */
export type SignalingErrorName =
  | 'ValidationError'
  | 'ConfigError'
  | 'NotInRoomError'
  | 'PeerNotFoundError'
  | 'PeerIdTakenError'
  | 'RoomFullError'
  | 'TooManyRoomsError'
  | 'TicketError'
  | 'UnknownRoomError'
  | 'RateLimitError'
  | 'ModelFileError'
  | 'InternalError';

/** The class of each error name the server sends (all in shared/src/errors.ts). */
export const SIGNALING_ERRORS: Readonly<Record<SignalingErrorName, new (message: string) => TabswarmError>> = {
  ValidationError,
  ConfigError,
  NotInRoomError,
  PeerNotFoundError,
  PeerIdTakenError,
  RoomFullError,
  TooManyRoomsError,
  TicketError,
  UnknownRoomError,
  RateLimitError,
  ModelFileError,
  InternalError,
};

export function isSignalingErrorName(name: unknown): name is SignalingErrorName {
  return typeof name === 'string' && Object.hasOwn(SIGNALING_ERRORS, name);
}

/** An error as it crosses the wire: the error's `name` (a SignalingErrorName) and its message. */
export interface ErrorPayload {
  name: string;
  message: string;
}

/**
 * The named error a server's error payload stands for, e.g. `{ name: 'RoomFullError' }` -> a
 * RoomFullError. Names this side does not know become a SignalingError that keeps the name.
 */
export function errorFromPayload(payload: ErrorPayload): TabswarmError {
  // Whatever the types say, this came off the network.
  const name: unknown = (payload as Partial<ErrorPayload> | null)?.name;
  const raw: unknown = (payload as Partial<ErrorPayload> | null)?.message;
  const message = typeof raw === 'string' ? raw : '';
  if (isSignalingErrorName(name)) return new SIGNALING_ERRORS[name](message);
  return new SignalingError(typeof name === 'string' && name !== '' ? name : 'UnknownError', message);
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorPayload };
export type AckCallback<T> = (result: Ack<T>) => void;

export interface JoinRequest {
  room: string;
  /** Run configuration keys (as in the URL); used only if this tab creates the room. */
  config?: Record<string, unknown>;
  name?: string;
  /** The room's join ticket (the invite URL's `ticket`), on a server that requires them. */
  ticket?: string;
  /**
   * `observer`: follow the room without training (not a member: no epoch, no ring, no blame);
   * it fetches the state from members over WebRTC. @default 'member'
   */
  role?: JoinRole;
}

export type JoinRole = 'member' | 'observer';

/**
 * A room's run that reached its last step, as the majority of its members reported it
 * (`room:finished`): no weights, only what identifies them.
 */
export interface FinishedRun {
  step: number;
  /** The weights hash every replica holds (16 hex digits). */
  hash: string;
  /** Test accuracy on the room's evaluation subset, as the members measured it. */
  testAccuracy: number | null;
}

/**
 * One ICE server as RTCPeerConnection takes it (`config.iceServers`). A TURN server carries the
 * member's own time-limited credentials (the TURN REST convention: `username` is
 * `expiry:peerId`, `credential` derived from a secret the tabs never see).
 */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface JoinResult {
  peerId: string;
  room: string;
  /** The room's configuration, which may differ from the one this tab asked for. */
  config: RunConfig;
  epoch: number;
  /** Sorted peer ids, this tab's included. */
  members: string[];
  /** Secret proof of this peer id, presented by `room:rejoin` after a lost connection. */
  token: string;
  /** What the room's configuration costs each member (estimateCost): a tab shows it, and asks before a heavy one. */
  cost: ConfigCost;
  /**
   * STUN and TURN servers for this member's connections, fresh on every join and rejoin (TURN
   * credentials expire); empty when the server was started without any (tabs on one network).
   */
  iceServers: IceServer[];
  /**
   * `observer` when asked for, or when the room's run has finished (a finished room takes no new
   * members: the joiner follows it and fetches the model). Absent from older servers: member.
   */
  role?: JoinRole;
  /** The room's finished run, if it has finished (then `members` are those who still hold it). */
  finished?: FinishedRun | null;
  /** The room's observers (peer ids, sorted), whom members serve the state on request. */
  observers?: string[];
  /** The room is an organiser's: its configuration is the organiser's, whatever the join proposed. */
  organised?: boolean;
}

/**
 * `room:preview`: what joining `room` would mean, asked before a tab downloads anything or warms
 * up a backend, so that a volunteer can say yes or no first. Same fields and checks as a join
 * (tickets, UnknownRoomError, ConfigError), but nobody joins.
 */
export interface PreviewRequest {
  room: string;
  config?: Record<string, unknown>;
  ticket?: string;
}

export interface RoomOffer {
  room: string;
  /** The configuration a join would get now: the room's, or (no such room yet) `config` over the server's defaults. */
  config: RunConfig;
  cost: ConfigCost;
  /** The room is an organiser's (its configuration fixed by the server). */
  organised: boolean;
  /** Members it holds now (0: a join would open it). */
  members: number;
}

/** Longest token or weights hash a rejoin may carry. */
export const MAX_TOKEN_LENGTH = 64;
/** Most peer ids a rejoin's `known` may list. */
export const MAX_KNOWN_PEERS = 256;

/**
 * A member re-registers its room after losing the server (or the server losing it): who it is,
 * and the room as it trains in it.
 */
export interface RejoinRequest {
  room: string;
  peerId: string;
  token: string;
  /** The room's run configuration as this member holds it (RunConfig keys). */
  config: Record<string, unknown>;
  /** The membership this member trains in. */
  epoch: number;
  /** Sorted peer ids, this member's included. */
  members: string[];
  /** Steps completed, and the weights hash after them. */
  step: number;
  hash: string;
  /**
   * Other peers this member trained with in this room, in earlier views too (at most
   * MAX_KNOWN_PEERS, the latest). A rebuild waits for them as well, so a fork that split off the
   * room cannot settle it alone before the rest is back.
   */
  known?: string[];
  name?: string;
  /** The room's join ticket, on a server that requires them (a restarted server knows no token). */
  ticket?: string;
}

export interface RejoinResult extends JoinResult {
  /**
   * This member's state lost to the room's (its fork was not the majority, or it came late to a
   * rebuilt room from another view): it drops its state and catches up by state transfer.
   */
  adopt: boolean;
}

export interface RelayRequest {
  /** Peer id of a member of the sender's room. */
  to: string;
  /** A simple-peer signal: a JSON object of at most MAX_SIGNAL_BYTES. */
  data: unknown;
}

/**
 * After a failed step (a missed deadline, a closed channel) members ask for a fresh epoch with the
 * same members, so the redone step cannot mix with remains of the failed one. `epoch` is the one
 * that failed: many members asking about the same epoch bump it once.
 */
export interface ResyncRequest {
  epoch: number;
  /** The member the reporter blames (e.g. the peer a missed deadline points at). */
  suspect?: string;
}

/**
 * Sent to a member removed from its room: by the room (most members blamed it for missed
 * deadlines again and again; it may join again) or by the server's organiser (it stays out).
 */
export interface EvictedEvent {
  room: string;
  reason: string;
  /** Joins from the evicted member's address wait this long (older servers send none). */
  rejoinAfterMs?: number;
  /** Who removed it. Absent (older servers): the room. */
  by?: 'room' | 'organiser';
}

/**
 * `room:report`: a status text for the server's log, or a member's progress, every
 * PROGRESS_REPORT_MS, for the organiser's list of rooms. Progress is a handful of numbers:
 * never a weight or a gradient.
 */
export type ReportRequest =
  | { kind: 'status'; text: string }
  | ({ kind: 'progress' } & ProgressReport);

export interface ProgressReport {
  step: number;
  /** Last measured test accuracy in [0, 1], null before the first evaluation. */
  accuracy: number | null;
  stepsPerSecond: number | null;
  /** Bytes this member sent in its last step. */
  bytesPerStep: number;
  /** The tfjs backend in use. */
  backend: string | null;
}

export interface MembersEvent {
  room: string;
  epoch: number;
  /** Sorted peer ids. */
  members: string[];
}

/** The observers of a room changed: members accept their connections and serve them the state. */
export interface ObserversEvent {
  room: string;
  /** Sorted peer ids. */
  observers: string[];
}

/** The room's run finished (the majority of its members reported the same last step and hash). */
export interface RunFinishedEvent {
  room: string;
  run: FinishedRun;
}

export interface SignalEvent {
  from: string;
  data: unknown;
}

export interface ClientToServerEvents {
  'room:join': (request: JoinRequest, ack: AckCallback<JoinResult>) => void;
  /** Answered once the server decided (a rebuild waits for the other members' registrations). */
  'room:rejoin': (request: RejoinRequest, ack: AckCallback<RejoinResult>) => void;
  /**
   * The server also takes it without an ack (failures then come as `server:error`), but the ack is
   * declared required: socket.io's `timeout().emit()` types only non-optional acks.
   */
  'signal:relay': (request: RelayRequest, ack: AckCallback<null>) => void;
  'room:leave': () => void;
  'room:report': (report: ReportRequest) => void;
  'room:preview': (request: PreviewRequest, ack: AckCallback<RoomOffer>) => void;
  'room:resync': (request: ResyncRequest) => void;
  /** A member's session reached the run's last step: its step, weights hash and accuracy. */
  'room:finished': (report: FinishedRun) => void;
}

export interface ServerToClientEvents {
  'room:members': (event: MembersEvent) => void;
  signal: (event: SignalEvent) => void;
  'server:error': (error: ErrorPayload) => void;
  'room:evicted': (event: EvictedEvent) => void;
  'room:observers': (event: ObserversEvent) => void;
  'room:finished': (event: RunFinishedEvent) => void;
}
