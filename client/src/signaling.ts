/**
 * The tab's side of the signaling protocol: join a room, learn its membership epochs, relay
 * WebRTC signals. Gradients and weights never pass through here.
 */
import { io, type Socket } from 'socket.io-client';
import { type Ack, type ClientToServerEvents, type EvictedEvent, type JoinResult, type MembersEvent, type ServerToClientEvents, type SignalEvent, TimeoutError } from '@tabswarm/shared/protocol';

export type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export class SignalingError extends Error {
  override name = 'SignalingError';
}

export interface SignalingHandlers {
  onMembers(event: MembersEvent): void;
  onSignal(event: SignalEvent): void;
  onError(message: string): void;
  /** The server removed this worker from its room for missing deadlines. */
  onEvicted(event: EvictedEvent): void;
  /** The socket reconnected after a loss: the server forgot the old membership. */
  onReconnected(): void;
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

  /** Joins `room`; `config` fixes the room's run configuration if this tab creates it. */
  join(room: string, config: Record<string, unknown>, timeoutMs = 15_000): Promise<JoinResult> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`no answer from the signaling server within ${timeoutMs} ms`)), timeoutMs);
      this.socket.emit('room:join', { room, config }, (ack: Ack<JoinResult>) => {
        clearTimeout(timer);
        if (ack.ok) resolve(ack.data);
        else reject(new SignalingError(`${ack.error.name}: ${ack.error.message}`));
      });
    });
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

  close(): void {
    this.socket.disconnect();
  }
}
