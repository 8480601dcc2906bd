/**
 * The tab's side of the signaling protocol: join a room, learn its membership epochs, relay
 * WebRTC signals, and re-register the room after a lost connection (`room:rejoin`). Gradients and
 * weights never pass through here. Server errors come back as the named errors of
 * shared/src/errors.ts (RoomFullError, ConfigError, PeerIdTakenError, ...).
 *
 * A lost connection is retried for ever with backoff (0.5 s doubling to 2 s, randomized), so
 * members find a restarted server within seconds of its return. While it is away nothing is
 * queued for it: relays and resync requests are dropped (a restarted server would not know what
 * they refer to) and the caller is told so.
 */
import { io, type Socket } from 'socket.io-client';
import { deadline, raceSignal } from '@tabswarm/shared';
import { AbortedError, errorFromPayload, type Ack, type ClientToServerEvents, type EvictedEvent, type FinishedRun, type JoinResult, type JoinRole, type ObserversEvent, type RunFinishedEvent, type MembersEvent, type ProgressReport, type RejoinRequest, type RejoinResult, type RoomOffer, type ServerToClientEvents, type SignalEvent, type SignalingStatus } from '@tabswarm/shared/protocol';

export type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface SignalingHandlers {
  onMembers(event: MembersEvent): void;
  onSignal(event: SignalEvent): void;
  onError(message: string): void;
  /** The server removed this member from its room for missing deadlines. */
  onEvicted(event: EvictedEvent): void;
  /** The socket reconnected after a loss: the server may have restarted; re-register the room. */
  onReconnected(): void;
  /** The connection was lost; it is being retried with backoff. */
  onDisconnected?(reason: string): void;
  /** The room's observers changed (members serve them the state). */
  onObservers?(event: ObserversEvent): void;
  /** The room's run finished (most of its members reported the same last step and hash). */
  onFinished?(event: RunFinishedEvent): void;
}

export interface JoinOptions {
  /**
   * How long to wait for the server's answer (TimeoutError after).
   * @default 15_000
   */
  timeoutMs?: number;
  /** Gives up waiting (with the signal's reason) when aborted. */
  signal?: AbortSignal;
  /** The room's join ticket (the invite URL's `ticket`), for a server that requires one. */
  ticket?: string;
  /** `observer`: follow the room without training. @default 'member' */
  role?: JoinRole;
}

/** Backoff of reconnection attempts: from this, doubling, randomized by half. */
const RECONNECT_DELAY_MS = 500;
const RECONNECT_DELAY_MAX_MS = 2_000;
/** A rejoin may wait for a rebuild window (5 s by default) on the server. */
const REJOIN_TIMEOUT_MS = 30_000;

export class SignalingClient {
  private readonly socket: SignalingSocket;
  private current: Pick<SignalingStatus, 'state' | 'since'> = { state: 'connecting', since: Date.now() };

  constructor(url: string | undefined, private readonly handlers: SignalingHandlers) {
    const options = { transports: ['websocket'], reconnectionDelay: RECONNECT_DELAY_MS, reconnectionDelayMax: RECONNECT_DELAY_MAX_MS };
    this.socket = url ? io(url, options) : io(options);
    this.socket.on('room:members', (e) => handlers.onMembers(e));
    this.socket.on('signal', (e) => handlers.onSignal(e));
    this.socket.on('server:error', (e) => handlers.onError(`${e.name}: ${e.message}`));
    // Once per outage: the retries every second or two would only repeat it.
    let toldUnreachable = false;
    this.socket.on('connect_error', (e) => {
      if (!toldUnreachable) handlers.onError(`signaling server unreachable: ${e.message}; trying again`);
      toldUnreachable = true;
    });
    this.socket.on('room:evicted', (e) => handlers.onEvicted(e));
    this.socket.on('room:observers', (e) => handlers.onObservers?.(e));
    this.socket.on('room:finished', (e) => handlers.onFinished?.(e));
    let connectedBefore = false;
    this.socket.on('connect', () => {
      toldUnreachable = false;
      this.current = { state: 'connected', since: Date.now() };
      if (connectedBefore) handlers.onReconnected();
      connectedBefore = true;
    });
    this.socket.on('disconnect', (reason) => {
      if (this.current.state === 'closed') return;
      this.current = { state: 'reconnecting', since: Date.now() };
      handlers.onDisconnected?.(reason);
    });
  }

  /** The connection's state and since when (ms since epoch). */
  get status(): Pick<SignalingStatus, 'state' | 'since'> {
    return { ...this.current };
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /**
   * Joins `room`; `config` fixes the room's run configuration if this member creates it. Rejects
   * with the server's named error (RoomFullError, TooManyRoomsError, ConfigError, ...), or
   * TimeoutError, or the reason of `options.signal`.
   */
  join(room: string, config: Record<string, unknown>, options: JoinOptions = {}): Promise<JoinResult> {
    // The server hangs up on a socket in no room for a while (e.g. an evicted member waiting out
    // its address's wait), and socket.io does not retry that: connect again to join.
    if (!this.socket.active && this.current.state !== 'closed') this.socket.connect();
    return this.ask(`joining room ${room}`, options.timeoutMs ?? 15_000, options.signal, (ack) => this.socket.emit('room:join', { room, config, ...(options.ticket === undefined ? {} : { ticket: options.ticket }), ...(options.role === 'observer' ? { role: options.role } : {}) }, ack));
  }

  /**
   * What joining `room` would mean (its configuration, cost, whether an organiser owns it), without
   * joining. Rejects like join (UnknownRoomError, TicketError, ConfigError, TimeoutError, ...).
   */
  preview(room: string, config: Record<string, unknown>, options: JoinOptions = {}): Promise<RoomOffer> {
    return this.ask(`looking at room ${room}`, options.timeoutMs ?? 15_000, options.signal, (ack) => this.socket.emit('room:preview', { room, config, ...(options.ticket === undefined ? {} : { ticket: options.ticket }) }, ack));
  }

  /** Tells the server this member's progress (for the organiser's list); dropped while the server is away. */
  reportProgress(progress: ProgressReport): void {
    if (this.socket.connected) this.socket.emit('room:report', { kind: 'progress', ...progress });
  }

  /**
   * Re-registers `request.room` under this member's peer id after a lost connection. The answer
   * may wait for the server's rebuild window. Rejects with the server's named error
   * (PeerIdTakenError: the id is someone else's now), TimeoutError, AbortedError if the
   * connection drops meanwhile, or the reason of `options.signal`.
   */
  rejoin(request: RejoinRequest, options: JoinOptions = {}): Promise<RejoinResult> {
    return this.ask(`re-registering room ${request.room}`, options.timeoutMs ?? REJOIN_TIMEOUT_MS, options.signal, (ack) => this.socket.emit('room:rejoin', request, ack));
  }

  /** Leaves the room this client joined (the socket stays, for a later join). */
  leave(): void {
    if (this.socket.connected) this.socket.emit('room:leave');
  }

  /** Relays a signal to `to`; dropped (false) while the server is away. */
  relay(to: string, data: unknown): boolean {
    if (!this.socket.connected) return false;
    this.socket.emit('signal:relay', { to, data }, (ack) => {
      if (!ack.ok) this.handlers.onError(`relay to ${to.slice(0, 8)} failed: ${ack.error.message}`);
    });
    return true;
  }

  /**
   * Asks for a new epoch after a step of `epoch` failed, blaming `suspect` if known. Returns false
   * (nothing sent) while the server is away.
   */
  resync(epoch: number, suspect?: string): boolean {
    if (!this.socket.connected) return false;
    this.socket.emit('room:resync', suspect ? { epoch, suspect } : { epoch });
    return true;
  }

  /** Tells the server this member's run ended with `run`; dropped (false) while the server is away. */
  finished(run: FinishedRun): boolean {
    if (!this.socket.connected) return false;
    this.socket.emit('room:finished', run);
    return true;
  }

  /** Disconnects for good (no reconnection); calling it again does nothing. */
  close(): void {
    this.current = { state: 'closed', since: Date.now() };
    this.socket.disconnect();
  }

  /** Emits with an ack and waits for it, within `ms`, `signal`, and the connection's life. */
  private async ask<T>(what: string, ms: number, signal: AbortSignal | undefined, emit: (ack: (result: Ack<T>) => void) => void): Promise<T> {
    const limit = deadline(ms, what, signal);
    const wasConnected = this.socket.connected;
    // socket.io never calls an ack whose connection dropped: stop waiting for it then.
    const dropped = new Promise<never>((_, reject) => {
      this.socket.once('disconnect', onDrop);
      function onDrop(): void {
        reject(new AbortedError(`${what}: the signaling connection was lost`));
      }
      limit.signal.addEventListener('abort', () => this.socket.off('disconnect', onDrop), { once: true });
    });
    dropped.catch(() => undefined);
    try {
      const answer = new Promise<Ack<T>>((resolve) => emit(resolve));
      // A join emitted before the first connection waits for it (socket.io sends it then).
      const ack = await raceSignal(wasConnected ? Promise.race([answer, dropped]) : answer, limit.signal, what);
      if (!ack.ok) throw errorFromPayload(ack.error);
      return ack.data;
    } finally {
      limit.clear();
    }
  }
}
