/**
 * The tab's side of the signaling protocol: join a room, learn its membership epochs, relay
 * WebRTC signals. Gradients and weights never pass through here. Server errors come back as the
 * named errors of shared/src/errors.ts (RoomFullError, ConfigError, ...).
 */
import { io, type Socket } from 'socket.io-client';
import { deadline, raceSignal } from '@tabswarm/shared';
import { errorFromPayload, type Ack, type ClientToServerEvents, type EvictedEvent, type JoinResult, type MembersEvent, type ServerToClientEvents, type SignalEvent } from '@tabswarm/shared/protocol';

export type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface SignalingHandlers {
  onMembers(event: MembersEvent): void;
  onSignal(event: SignalEvent): void;
  onError(message: string): void;
  /** The server removed this member from its room for missing deadlines. */
  onEvicted(event: EvictedEvent): void;
  /** The socket reconnected after a loss: the server forgot the old membership. */
  onReconnected(): void;
}

export interface JoinOptions {
  /**
   * How long to wait for the server's answer (TimeoutError after).
   * @default 15_000
   */
  timeoutMs?: number;
  /** Gives up waiting (with the signal's reason) when aborted. */
  signal?: AbortSignal;
}

export class SignalingClient {
  private readonly socket: SignalingSocket;

  constructor(url: string | undefined, private readonly handlers: SignalingHandlers) {
    this.socket = url ? io(url, { transports: ['websocket'] }) : io({ transports: ['websocket'] });
    this.socket.on('room:members', (e) => handlers.onMembers(e));
    this.socket.on('signal', (e) => handlers.onSignal(e));
    this.socket.on('server:error', (e) => handlers.onError(`${e.name}: ${e.message}`));
    this.socket.on('connect_error', (e) => handlers.onError(`signaling server unreachable: ${e.message}`));
    this.socket.on('room:evicted', (e) => handlers.onEvicted(e));
    let connectedBefore = false;
    this.socket.on('connect', () => {
      if (connectedBefore) handlers.onReconnected();
      connectedBefore = true;
    });
  }

  /**
   * Joins `room`; `config` fixes the room's run configuration if this member creates it. Rejects
   * with the server's named error (RoomFullError, TooManyRoomsError, ConfigError, ...), or
   * TimeoutError, or the reason of `options.signal`.
   */
  async join(room: string, config: Record<string, unknown>, options: JoinOptions = {}): Promise<JoinResult> {
    const what = `joining room ${room}`;
    const limit = deadline(options.timeoutMs ?? 15_000, what, options.signal);
    try {
      const answer = new Promise<Ack<JoinResult>>((resolve) => this.socket.emit('room:join', { room, config }, resolve));
      const ack = await raceSignal(answer, limit.signal, what);
      if (!ack.ok) throw errorFromPayload(ack.error);
      return ack.data;
    } finally {
      limit.clear();
    }
  }

  relay(to: string, data: unknown): void {
    this.socket.emit('signal:relay', { to, data }, (ack) => {
      if (!ack.ok) this.handlers.onError(`relay to ${to.slice(0, 8)} failed: ${ack.error.message}`);
    });
  }

  /** Asks for a new epoch after a step of `epoch` failed, blaming `suspect` if known. */
  resync(epoch: number, suspect?: string): void {
    this.socket.emit('room:resync', suspect ? { epoch, suspect } : { epoch });
  }

  /** Disconnects for good (no reconnection); calling it again does nothing. */
  close(): void {
    this.socket.disconnect();
  }
}
