/**
 * The Transport over WebRTC data channels, one simple-peer connection per member (a full mesh;
 * the ring uses two of them, direct exchanges all). The member with the lower id initiates, so
 * each pair negotiates exactly once. Signals carry a connection id so a reconnect never mixes
 * with the remains of an older connection.
 */
import SimplePeer from 'simple-peer';
import { raceSignal, type Transport, MAX_FRAME_BYTES } from '@tabswarm/shared';
import { PeerLeftError } from '@tabswarm/shared/protocol';

/** Above this many bytes queued in a channel, senders wait for it to drain (Chromium throws at ~16 MiB). */
const HIGH_WATER_BYTES = 1024 * 1024;
// simple-peer sets the channel's bufferedAmountLowThreshold to 64 KiB: 'bufferedamountlow' fires below it.
/** How often a sender waiting for a channel to drain also checks bufferedAmount itself. */
const DRAIN_POLL_MS = 20;

interface Connection {
  connId: string;
  peer: SimplePeer.Instance;
  open: boolean;
  opened: Promise<void>;
}

interface WireSignal {
  connId: string;
  signal: SimplePeer.SignalData;
}

export interface WebRtcTransportInit {
  /** ICE servers for peers on other networks; tabs on one machine need none. @default [] */
  iceServers?: RTCIceServer[];
  /** Sends a signal to a peer through the signaling server. */
  relay(to: string, data: WireSignal): void;
  /** simple-peer's `wrtc` option: a WebRTC implementation where the platform has none (Node). */
  wrtc?: unknown;
}

type FrameHandler = (from: string, frame: Uint8Array) => void;
type CloseHandler = (peerId: string) => void;

export class WebRtcTransport implements Transport {
  private readonly connections = new Map<string, Connection>();
  private readonly frameHandlers = new Set<FrameHandler>();
  private readonly closeHandlers = new Set<CloseHandler>();
  private members = new Set<string>();

  constructor(readonly selfId: string, private readonly init: WebRtcTransportInit) {}

  /** Opens connections to new members, closes those to peers who left. */
  setMembers(members: readonly string[]): void {
    this.members = new Set(members.filter((id) => id !== this.selfId));
    for (const id of this.connections.keys()) if (!this.members.has(id)) this.drop(id);
    for (const id of this.members) if (!this.connections.has(id) && this.selfId < id) this.open(id, randomId(), true);
  }

  /** Resolves when a channel to every member is open. */
  async connect(members: readonly string[], signal: AbortSignal): Promise<void> {
    this.setMembers(members);
    const pending = [...this.members].map((id) => {
      const conn = this.connections.get(id);
      // The other side initiates; wait for its offer to create the connection.
      return conn ? conn.opened : this.waitForConnection(id, signal);
    });
    try {
      await raceSignal(Promise.all(pending), signal, 'connecting to peers');
    } catch (err) {
      // Give up connections that did not open in time, so the next epoch negotiates them afresh:
      // node-datachannel now and then leaves one side of a negotiation hanging with no error.
      for (const id of this.members) if (this.connections.get(id)?.open === false) this.drop(id);
      throw err;
    }
  }

  /** A signal relayed from `from`. */
  handleSignal(from: string, data: unknown): void {
    const wire = data as Partial<WireSignal> | null;
    if (!wire || typeof wire.connId !== 'string' || typeof wire.signal !== 'object' || !this.members.has(from)) return;
    let conn = this.connections.get(from);
    if (conn && conn.connId !== wire.connId) {
      if (this.selfId < from) return; // stale answer to a connection we replaced
      this.drop(from);
      conn = undefined;
    }
    // Only the higher id answers: a late signal for a connection we initiated and dropped must not
    // create an answering one that never opens (setMembers opens a fresh one on the next epoch).
    if (!conn && this.selfId < from) return;
    conn ??= this.open(from, wire.connId, false);
    conn.peer.signal(wire.signal);
  }

  send(peerId: string, frame: Uint8Array): Promise<void> {
    const conn = this.connections.get(peerId);
    if (!conn?.open) return Promise.reject(new PeerLeftError(peerId, `no open channel to ${peerId}`));
    if (frame.length > MAX_FRAME_BYTES) return Promise.reject(new RangeError(`frame of ${frame.length} bytes is over the channel limit`));
    try {
      conn.peer.send(frame);
    } catch (err) {
      this.drop(peerId);
      return Promise.reject(new PeerLeftError(peerId, `send to ${peerId} failed: ${(err as Error).message}`));
    }
    const channel = channelOf(conn.peer);
    if (!channel || channel.bufferedAmount <= HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearInterval(poll);
        channel.removeEventListener('bufferedamountlow', done);
        channel.removeEventListener('close', done);
        if (channel.readyState === 'open') resolve();
        else reject(new PeerLeftError(peerId, `channel to ${peerId} closed`));
      };
      channel.addEventListener('bufferedamountlow', done);
      channel.addEventListener('close', done);
      // @roamhq/wrtc (a Node WebRTC) never fires 'bufferedamountlow': watch bufferedAmount as well.
      const poll = setInterval(() => {
        if (channel.readyState !== 'open' || channel.bufferedAmount <= channel.bufferedAmountLowThreshold) done();
      }, DRAIN_POLL_MS);
    });
  }

  onFrame(handler: FrameHandler): () => void {
    this.frameHandlers.add(handler);
    return () => this.frameHandlers.delete(handler);
  }

  onPeerClosed(handler: CloseHandler): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  connectedPeers(): string[] {
    return [...this.connections.entries()].filter(([, c]) => c.open).map(([id]) => id);
  }

  close(): void {
    for (const id of [...this.connections.keys()]) this.drop(id);
  }

  private connectionWaiters = new Map<string, Array<() => void>>();

  private waitForConnection(id: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const list = this.connectionWaiters.get(id) ?? [];
      list.push(resolve);
      this.connectionWaiters.set(id, list);
    }).then(() => raceSignal(this.connections.get(id)!.opened, signal, `connecting to ${id}`));
  }

  private open(id: string, connId: string, initiator: boolean): Connection {
    const peer = new SimplePeer({
      initiator,
      trickle: true,
      config: { iceServers: this.init.iceServers ?? [] },
      ...(this.init.wrtc ? { wrtc: this.init.wrtc as SimplePeer.Options['wrtc'] } : {}),
    });
    let markOpen!: () => void;
    let markFailed!: (e: Error) => void;
    const opened = new Promise<void>((resolve, reject) => {
      markOpen = resolve;
      markFailed = reject;
    });
    opened.catch(() => undefined); // observed by connect(); not every connection has a waiter
    const conn: Connection = { connId, peer, open: false, opened };
    this.connections.set(id, conn);
    peer.on('signal', (signal: SimplePeer.SignalData) => this.init.relay(id, { connId, signal }));
    peer.on('connect', () => {
      conn.open = true;
      markOpen();
    });
    peer.on('data', (data: Uint8Array) => {
      for (const handler of this.frameHandlers) handler(id, data);
    });
    const onGone = (err?: Error): void => {
      markFailed(new PeerLeftError(id, err ? `channel to ${id} failed: ${err.message}` : `channel to ${id} closed`));
      if (this.connections.get(id) === conn) this.drop(id);
    };
    peer.on('close', () => onGone());
    peer.on('error', (err: Error) => onGone(err));
    for (const wake of this.connectionWaiters.get(id)?.splice(0) ?? []) wake();
    return conn;
  }

  private drop(id: string): void {
    const conn = this.connections.get(id);
    if (!conn) return;
    this.connections.delete(id);
    conn.peer.destroy();
    for (const handler of this.closeHandlers) handler(id);
  }
}

/** simple-peer keeps its RTCDataChannel private; backpressure needs its bufferedAmount and events. */
function channelOf(peer: SimplePeer.Instance): RTCDataChannel | undefined {
  return (peer as unknown as { _channel?: RTCDataChannel })._channel ?? undefined;
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
}

