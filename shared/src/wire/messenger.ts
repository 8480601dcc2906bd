/**
 * Messages over a Transport: splits a message into frames of at most MAX_FRAME_BYTES, sends them
 * in order under backpressure, reassembles on the other side, and hands complete messages to
 * whoever waits for them (`receive`) or to a handler for unsolicited kinds (`handle`).
 *
 * Defences (every peer may be hostile): malformed frames are counted and reported, never thrown
 * at the sender; a message may not announce more than `maxMessageBytes`; each peer has its own
 * cap on buffered bytes and messages (receive-limits.ts), so one peer cannot crowd out the
 * others; duplicate chunks are ignored; frames of past epochs/steps are dropped on arrival, and
 * frames more than one epoch or MAX_STEPS_AHEAD steps ahead are dropped too. A peer whose frame
 * is malformed or over its caps is at fault: its pending receives, and later ones of this epoch
 * and the next (its bad frame may have been meant for the next: peers change epochs at slightly
 * different times), reject with PeerInputError naming it, so the step fails at once and blames it.
 */
import { AbortedError, PeerInputError, PeerLeftError, PeerLimitError, WireFormatError } from '../errors.ts';
import { abortReason } from '../deadline.ts';
import type { Transport } from '../transport/transport.ts';
import { decodeFrame, encodeFrame, MAX_PAYLOAD_BYTES, MessageKind, type FrameHeader } from './frame.ts';
import { DEFAULT_PEER_BUFFER_BYTES, DEFAULT_PEER_MESSAGES, PeerBudget, ReceiveWindow } from './receive-limits.ts';

export type MessageHeader = Omit<FrameHeader, 'chunkIndex' | 'chunkCount'>;

export interface Message {
  from: string;
  header: MessageHeader;
  payload: Uint8Array;
}

export interface MessengerInit {
  /** Largest message accepted, in bytes. @default 64 MiB */
  maxMessageBytes?: number;
  /** Cap on bytes one peer may hold in partial and unclaimed messages. @default 80 MiB */
  maxPeerBufferedBytes?: number;
  /** Cap on partial and unclaimed messages one peer may hold. @default 1024 */
  maxPeerMessages?: number;
  /** Told about every rejected frame or message; the default ignores them. */
  onError?: (error: Error, from: string) => void;
}

export interface TrafficStats {
  /** Whole frames, headers included. */
  bytesSent: number;
  /** Message payload only (what a collective's byte theory counts). */
  payloadBytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Frames rejected as malformed, oversized, over a peer's caps or out of the window. */
  rejected: number;
}

interface Partial {
  from: string;
  header: MessageHeader;
  chunks: Array<Uint8Array | undefined>;
  received: number;
  bytes: number;
}

interface Waiter {
  resolve(message: Message): void;
  reject(error: Error): void;
}

function messageKey(from: string, h: MessageHeader): string {
  return `${from}|${h.kind}|${h.epoch}|${h.step}|${h.tag}|${h.seq}`;
}

export class Messenger {
  readonly stats: TrafficStats = { bytesSent: 0, payloadBytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, rejected: 0 };
  private readonly partials = new Map<string, Partial>();
  private readonly complete = new Map<string, Message>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly handlers = new Map<MessageKind, (message: Message) => void>();
  /** What each peer holds, against its own caps. */
  readonly budget: PeerBudget;
  private readonly window = new ReceiveWindow();
  /** Peers whose input was refused, by the epoch they are at fault in (one entry per peer). */
  private readonly faults = new Map<string, { epoch: number; error: Error }>();
  private readonly maxMessageBytes: number;
  private readonly unsubscribe: Array<() => void>;

  constructor(readonly transport: Transport, private readonly init: MessengerInit = {}) {
    this.maxMessageBytes = init.maxMessageBytes ?? 64 * 1024 * 1024;
    this.budget = new PeerBudget(init.maxPeerBufferedBytes ?? DEFAULT_PEER_BUFFER_BYTES, init.maxPeerMessages ?? DEFAULT_PEER_MESSAGES);
    this.unsubscribe = [
      transport.onFrame((from, bytes) => this.onFrame(from, bytes)),
      transport.onPeerClosed((peerId) => this.onPeerClosed(peerId)),
    ];
  }

  get selfId(): string {
    return this.transport.selfId;
  }

  /** Receives still waiting for their message (read-only; for tests and leak checks). */
  get pendingReceives(): number {
    return this.waiters.size;
  }

  /** Sends one message as ceil(len / MAX_PAYLOAD_BYTES) frames (at least one). */
  async send(to: string, header: MessageHeader, payload: Uint8Array): Promise<void> {
    if (payload.length > this.maxMessageBytes) {
      throw new WireFormatError(`message of ${payload.length} bytes exceeds the limit of ${this.maxMessageBytes}`);
    }
    const chunkCount = Math.max(1, Math.ceil(payload.length / MAX_PAYLOAD_BYTES));
    for (let chunkIndex = 0; chunkIndex < chunkCount; chunkIndex++) {
      const chunk = payload.subarray(chunkIndex * MAX_PAYLOAD_BYTES, (chunkIndex + 1) * MAX_PAYLOAD_BYTES);
      const frame = encodeFrame({ ...header, chunkIndex, chunkCount, payload: chunk });
      await this.transport.send(to, frame);
      this.stats.bytesSent += frame.length;
      this.stats.payloadBytesSent += chunk.length;
      this.stats.framesSent++;
    }
  }

  /**
   * Waits for the message `from` sends with this header (kind, epoch, step, tag, seq).
   * Rejects with the signal's reason on abort/deadline, PeerLeftError if `from` disconnects, or
   * PeerInputError if `from` sent input refused in this epoch; either way the wait and its abort
   * listener are gone once it settles.
   */
  receive(from: string, header: MessageHeader, signal: AbortSignal): Promise<Message> {
    const key = messageKey(from, header);
    const ready = this.complete.get(key);
    if (ready) {
      this.complete.delete(key);
      this.budget.release(from, ready.payload.length, 1);
      return Promise.resolve(ready);
    }
    if (signal.aborted) return Promise.reject(abortReason(signal, 'receive'));
    const fault = this.faults.get(from);
    if (fault && header.epoch <= fault.epoch + 1) return Promise.reject(atFault(from, fault.error));
    if (!this.transport.connectedPeers().includes(from)) return Promise.reject(new PeerLeftError(from));
    if (this.waiters.has(key)) return Promise.reject(new AbortedError(`already waiting for ${key}`));
    return new Promise<Message>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(key);
        reject(abortReason(signal, `waiting for ${MessageKind[header.kind]} from ${from}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(key, {
        resolve: (m) => {
          signal.removeEventListener('abort', onAbort);
          resolve(m);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
    });
  }

  /**
   * Waits for every message `headers` lists from `from`, handing each to `onMessage` as soon as it
   * is complete, in arrival order (a stream of chunks is worked on while the rest travels); one
   * abort listener for all. Rejects with the first failure: the signal's reason, PeerLeftError,
   * PeerInputError (as `receive`), or what `onMessage` throws; the waits still registered are then gone.
   */
  receiveEach(from: string, headers: readonly MessageHeader[], signal: AbortSignal, onMessage: (message: Message, index: number) => void): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal, 'receive'));
    const fault = this.faults.get(from);
    if (fault && headers.some((h) => h.epoch <= fault.epoch + 1)) return Promise.reject(atFault(from, fault.error));
    if (!this.transport.connectedPeers().includes(from)) return Promise.reject(new PeerLeftError(from));
    return new Promise<void>((resolve, reject) => {
      const keys = headers.map((h) => messageKey(from, h));
      const mine = new Map<string, Waiter>();
      let left = keys.length;
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        for (const [key, waiter] of mine) if (this.waiters.get(key) === waiter) this.waiters.delete(key);
        if (error === undefined) resolve();
        else reject(error as Error);
      };
      const deliver = (message: Message, index: number): void => {
        if (settled) return;
        try {
          onMessage(message, index);
        } catch (error) {
          finish(error);
          return;
        }
        if (--left === 0) finish();
      };
      const onAbort = (): void => finish(abortReason(signal, `waiting for ${MessageKind[headers[0]!.kind]} from ${from}`));
      signal.addEventListener('abort', onAbort, { once: true });
      keys.forEach((key, index) => {
        if (settled) return;
        const ready = this.complete.get(key);
        if (ready) {
          this.complete.delete(key);
          this.budget.release(from, ready.payload.length, 1);
          deliver(ready, index);
          return;
        }
        if (this.waiters.has(key)) return finish(new AbortedError(`already waiting for ${key}`));
        const waiter: Waiter = { resolve: (m) => deliver(m, index), reject: (e) => finish(e) };
        mine.set(key, waiter);
        this.waiters.set(key, waiter);
      });
      if (keys.length === 0) finish();
    });
  }

  /** Routes every message of `kind` to `handler` instead of the receive queue (requests). */
  handle(kind: MessageKind, handler: (message: Message) => void): void {
    this.handlers.set(kind, handler);
  }

  /**
   * Everything before (epoch, step) is over: drop buffered collective messages of earlier steps
   * and earlier epochs, and ignore such messages from now on. Collective frames of steps past
   * `maxStep` are not kept (default: MAX_STEPS_AHEAD ahead; a member catching up passes the
   * run's last step while it does not know the room's step yet).
   */
  advance(epoch: number, step: number, maxStep?: number): void {
    this.window.set(epoch, step, maxStep);
    for (const [key, message] of this.complete) {
      if (this.window.isStale(message.header)) {
        this.complete.delete(key);
        this.budget.release(message.from, message.payload.length, 1);
      }
    }
    for (const [key, partial] of this.partials) {
      if (this.window.isStale(partial.header)) this.dropPartial(key, partial);
    }
    for (const [peer, fault] of this.faults) if (fault.epoch + 1 < epoch) this.faults.delete(peer);
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
    for (const waiter of this.waiters.values()) waiter.reject(new AbortedError('messenger closed'));
    this.waiters.clear();
    this.partials.clear();
    this.complete.clear();
    this.faults.clear();
    this.budget.clear();
  }

  private reject(error: Error, from: string): void {
    this.stats.rejected++;
    this.init.onError?.(error, from);
  }

  /** `from` sent input we refuse: it is at fault for this epoch, and whoever waits on it hears so now. */
  private fault(error: Error, from: string): void {
    this.reject(error, from);
    if (!this.faults.has(from)) this.faults.set(from, { epoch: this.window.epoch, error });
    for (const [key, waiter] of this.waiters) {
      if (key.startsWith(`${from}|`)) {
        this.waiters.delete(key);
        waiter.reject(atFault(from, error));
      }
    }
  }

  private dropPartial(key: string, partial: Partial): void {
    this.partials.delete(key);
    this.budget.release(partial.from, partial.bytes, 1);
  }

  private onFrame(from: string, bytes: Uint8Array): void {
    this.stats.bytesReceived += bytes.length;
    this.stats.framesReceived++;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      this.fault(error as Error, from);
      return;
    }
    const { chunkIndex, chunkCount, payload, ...header } = frame;
    if (this.window.isStale(header)) return;
    const outside = this.window.refuse(header);
    if (outside) return this.reject(outside, from);
    if (chunkCount * MAX_PAYLOAD_BYTES > this.maxMessageBytes + MAX_PAYLOAD_BYTES) {
      return this.fault(new PeerLimitError(`message of ${chunkCount} chunks exceeds the limit of ${this.maxMessageBytes} bytes`), from);
    }
    const key = messageKey(from, header);
    let partial = this.partials.get(key);
    if (!partial && this.complete.has(key)) return; // a duplicate of a message already assembled
    const over = this.budget.refuse(from, payload.length, !partial);
    if (over) return this.fault(over, from);
    if (!partial) {
      partial = { from, header, chunks: new Array<Uint8Array | undefined>(chunkCount), received: 0, bytes: 0 };
      this.partials.set(key, partial);
      this.budget.add(from, 0, 1);
    }
    if (partial.chunks.length !== chunkCount) {
      return this.fault(new WireFormatError(`chunk count changed from ${partial.chunks.length} to ${chunkCount} within one message`), from);
    }
    if (partial.chunks[chunkIndex]) return; // duplicate chunk
    // A view, not a copy: a frame handed over by the transport is the receiver's (transport.ts).
    partial.chunks[chunkIndex] = payload;
    partial.received++;
    partial.bytes += payload.length;
    this.budget.add(from, payload.length, 0);
    if (partial.received < chunkCount) return;

    this.partials.delete(key);
    const message: Message = { from, header, payload: chunkCount === 1 ? payload : joinChunks(partial) };
    const handler = this.handlers.get(header.kind);
    const waiter = this.waiters.get(key);
    if (handler || waiter) {
      this.budget.release(from, partial.bytes, 1);
      if (waiter) {
        this.waiters.delete(key);
        waiter.resolve(message);
      } else handler!(message);
      return;
    }
    this.complete.set(key, message);
  }

  private onPeerClosed(peerId: string): void {
    for (const [key, waiter] of this.waiters) {
      if (key.startsWith(`${peerId}|`)) {
        this.waiters.delete(key);
        waiter.reject(new PeerLeftError(peerId));
      }
    }
    for (const [key, partial] of this.partials) {
      if (partial.from === peerId) this.dropPartial(key, partial);
    }
    this.faults.delete(peerId);
  }
}

/** The chunks of a complete message in one buffer (the one copy a multi-frame message costs). */
function joinChunks(partial: Partial): Uint8Array {
  const whole = new Uint8Array(partial.bytes);
  let offset = 0;
  for (const chunk of partial.chunks) {
    whole.set(chunk!, offset);
    offset += chunk!.length;
  }
  return whole;
}

/** What a receive from a peer at fault rejects with: the refusal, naming the peer as the suspect. */
function atFault(from: string, error: Error): PeerInputError {
  return new PeerInputError(`input from ${from.slice(0, 8)} refused: ${error.name}: ${error.message}`, from);
}
