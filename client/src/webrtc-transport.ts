/**
 * The Transport over WebRTC data channels, one simple-peer connection per member (a full mesh;
 * the ring uses two of them, direct exchanges all). The member with the lower id initiates, so
 * each pair negotiates exactly once. Signals carry a connection id so a reconnect never mixes
 * with the remains of an older connection.
 *
 * Backpressure goes through simple-peer's public stream interface, never its private channel:
 * frames are written to the peer's Duplex stream, which hands them to the data channel in order,
 * each once the channel's bufferedAmount is at most 64 KiB; the wake-up is the channel's
 * 'bufferedamountlow' event (Chromium, node-datachannel), or simple-peer's own 150 ms poll of
 * bufferedAmount where the channel has no bufferedAmountLowThreshold (@roamhq/wrtc). `send`
 * resolves while the stream holds less than HIGH_WATER_BYTES, else on its 'drain'. Event-driven,
 * so a hidden tab's coarse timers do not slow it. (Polling the public `bufferSize` ourselves could
 * not help: frames wait in the stream, which only simple-peer's own wake-ups move on.)
 */
import SimplePeer from 'simple-peer';
import { abortReason, oversizeFrameError, raceSignal, type Transport } from '@tabswarm/shared';
import { AbortedError, PeerLeftError, TimeoutError } from '@tabswarm/shared/protocol';
import type { StatsEntry } from './peer-paths.ts';

/**
 * Bytes simple-peer's stream may hold before a send waits for it to drain (its writable
 * highWaterMark). Well below Chromium's ~16 MiB, past which a channel's send() throws.
 */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How long a send waits for a connection still opening before it gives up. */
const OPEN_WAIT_MS = 5_000;

/** simple-peer's public getStats (the RTCStatsReport's entries), which its typings omit. */
type StatsPeer = SimplePeer.Instance & { getStats(callback: (err: Error | null, reports: StatsEntry[]) => void): void };

interface Connection {
  connId: string;
  peer: StatsPeer;
  open: boolean;
  opened: Promise<void>;
  /** Sends waiting for the stream to drain. */
  drainWaiters: Array<{ resolve(): void; reject(err: Error): void }>;
}

interface WireSignal {
  connId: string;
  signal: SimplePeer.SignalData;
}

export interface WebRtcTransportInit {
  /**
   * ICE servers (STUN, TURN with credentials) for peers on other networks; tabs on one machine
   * need none. setIceServers() replaces them for later connections. @default []
   */
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
  /** Observers of the room (not members): connected too, so they can ask for the state. */
  private observers = new Set<string>();
  private closed = false;
  private iceServers: RTCIceServer[];
  /** Peers that sent us a signal a connection took: an honest peer slow to connect, unlike one that never tries. */
  private readonly heard = new Set<string>();

  constructor(readonly selfId: string, private readonly init: WebRtcTransportInit) {
    this.iceServers = init.iceServers ?? [];
  }

  /**
   * ICE servers for the connections opened from now on (renewed TURN credentials, after a
   * rejoin); open connections keep theirs.
   */
  setIceServers(servers: RTCIceServer[]): void {
    this.iceServers = servers;
  }

  /** The WebRTC stats of the open connection to `peerId` ([] if there is none). */
  stats(peerId: string, signal: AbortSignal): Promise<StatsEntry[]> {
    const conn = this.connections.get(peerId);
    if (!conn?.open) return Promise.resolve([]);
    const reports = new Promise<StatsEntry[]>((resolve, reject) => conn.peer.getStats((err, entries) => (err ? reject(err) : resolve(entries))));
    return raceSignal(reports, signal, `stats of the connection to ${peerId}`);
  }

  /** Opens connections to new members, closes those to peers who left. */
  setMembers(members: readonly string[]): void {
    if (this.closed) return;
    this.members = new Set(members.filter((id) => id !== this.selfId));
    this.reconcile();
  }

  /** The room's observers: connected like members, but nobody waits for them in connect(). */
  setObservers(observers: readonly string[]): void {
    if (this.closed) return;
    this.observers = new Set(observers.filter((id) => id !== this.selfId));
    this.reconcile();
  }

  private reconcile(): void {
    for (const id of this.connections.keys()) if (!this.isPeer(id)) this.drop(id);
    for (const id of this.heard) if (!this.isPeer(id)) this.heard.delete(id);
    for (const id of [...this.members, ...this.observers]) if (!this.connections.has(id) && this.selfId < id) this.open(id, randomId(), true);
  }

  private isPeer(id: string): boolean {
    return this.members.has(id) || this.observers.has(id);
  }

  /** Resolves when a channel to every member is open. */
  async connect(members: readonly string[], signal: AbortSignal): Promise<void> {
    if (this.closed) throw new AbortedError('the WebRTC transport is closed');
    this.setMembers(members);
    const pending = [...this.members].map((id) => {
      const conn = this.connections.get(id);
      // The other side initiates; wait for its offer to create the connection.
      return conn ? conn.opened : this.waitForConnection(id, signal);
    });
    try {
      await raceSignal(Promise.all(pending), signal, 'connecting to peers');
    } catch (err) {
      const unopened = [...this.members].filter((id) => this.connections.get(id)?.open !== true).sort();
      // Of those, one that never sent us a signal is the likelier culprit than one still negotiating.
      const suspect = unopened.find((id) => !this.heard.has(id)) ?? unopened[0];
      // Give up connections that did not open in time, so the next epoch negotiates them afresh:
      // node-datachannel now and then leaves one side of a negotiation hanging with no error.
      for (const id of unopened) if (this.connections.has(id)) this.drop(id);
      if (suspect === undefined) throw err;
      const channels = `no channel to ${unopened.map((id) => id.slice(0, 8)).join(', ')}`;
      // A member whose channel never opened is blamed like one that goes silent in a step, or a
      // member that joins and never connects would stall every epoch of the room unblamed.
      if (err instanceof TimeoutError) throw new TimeoutError(`${err.message}; ${channels}`, suspect);
      // Cut short (a new epoch): the caller knows whether it waited long enough to blame anyone.
      if (err instanceof AbortedError) throw new AbortedError(`${err.message}; ${channels}`, suspect);
      throw err;
    }
  }

  /**
   * Resolves when the channel to `peerId`, a member or observer already set, is open; the member
   * set stays as it is (an observer talks to one member at a time but hears from all). A channel
   * that did not open in time is dropped, so the next attempt negotiates afresh.
   */
  async connectTo(peerId: string, signal: AbortSignal): Promise<void> {
    if (this.closed) throw new AbortedError('the WebRTC transport is closed');
    if (!this.isPeer(peerId)) throw new PeerLeftError(peerId, `${peerId} is neither a member nor an observer here`);
    this.reconcile();
    const conn = this.connections.get(peerId);
    try {
      await raceSignal(conn ? conn.opened : this.waitForConnection(peerId, signal), signal, `connecting to ${peerId}`);
    } catch (err) {
      if (this.connections.get(peerId)?.open === false) this.drop(peerId);
      throw err;
    }
  }

  /** A signal relayed from `from`. */
  handleSignal(from: string, data: unknown): void {
    const wire = data as Partial<WireSignal> | null;
    if (this.closed || !wire || typeof wire.connId !== 'string' || typeof wire.signal !== 'object' || !this.isPeer(from)) return;
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
    this.heard.add(from);
    conn.peer.signal(wire.signal);
  }

  send(peerId: string, frame: Uint8Array): Promise<void> {
    const oversize = oversizeFrameError(frame);
    if (oversize) return Promise.reject(oversize);
    const conn = this.connections.get(peerId);
    if (!conn) return Promise.reject(new PeerLeftError(peerId, `no open channel to ${peerId}`));
    // The answering side may hear from a peer (an observer's request) before its own side opens.
    if (!conn.open) return this.whenOpen(conn, peerId).then(() => this.send(peerId, frame));
    // The stream copies the frame (so the caller may reuse it) and queues it behind earlier ones.
    if (conn.peer.write(frame)) return Promise.resolve();
    return new Promise((resolve, reject) => conn.drainWaiters.push({ resolve, reject }));
  }

  /** Resolves when `conn` opens; PeerLeftError if it fails, or is still not open after OPEN_WAIT_MS. */
  private whenOpen(conn: Connection, peerId: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PeerLeftError(peerId, `no open channel to ${peerId} within ${OPEN_WAIT_MS} ms`)), OPEN_WAIT_MS);
      conn.opened.then(resolve, reject).finally(() => clearTimeout(timer));
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

  /** Closes every channel (peers see them close) and stops negotiating. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.members.clear();
    this.observers.clear();
    for (const id of [...this.connections.keys()]) this.drop(id);
  }

  /** Who waits for a higher-id peer's offer, by peer id; a waiter leaves when woken or aborted. */
  private readonly offerWaiters = new Map<string, Set<() => void>>();

  /** Connections awaited from peers whose offer has not come yet (for tests and diagnostics). */
  get pendingOffers(): number {
    let count = 0;
    for (const waiters of this.offerWaiters.values()) count += waiters.size;
    return count;
  }

  private waitForConnection(id: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal, `connecting to ${id}`));
    return new Promise<void>((resolve, reject) => {
      const waiters = this.offerWaiters.get(id) ?? new Set<() => void>();
      this.offerWaiters.set(id, waiters);
      const leave = (): void => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.offerWaiters.get(id) === waiters) this.offerWaiters.delete(id);
        signal.removeEventListener('abort', onAbort);
      };
      const wake = (): void => {
        leave();
        resolve();
      };
      const onAbort = (): void => {
        leave();
        reject(abortReason(signal, `connecting to ${id}`));
      };
      waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    }).then(() => {
      // The connection the offer made may be dropped again before this runs (seen with 8 tabs on a busy machine).
      const conn = this.connections.get(id);
      if (!conn) throw new PeerLeftError(id, `the connection to ${id} closed before it opened`);
      return raceSignal(conn.opened, signal, `connecting to ${id}`);
    });
  }

  private open(id: string, connId: string, initiator: boolean): Connection {
    // simple-peer hands its options to its Duplex stream too; its typings omit the stream's.
    const options: SimplePeer.Options & { writableHighWaterMark: number } = {
      initiator,
      trickle: true,
      config: { iceServers: this.iceServers },
      writableHighWaterMark: HIGH_WATER_BYTES,
      ...(this.init.wrtc ? { wrtc: this.init.wrtc as SimplePeer.Options['wrtc'] } : {}),
    };
    const peer = new SimplePeer(options) as StatsPeer;
    let markOpen!: () => void;
    let markFailed!: (e: Error) => void;
    const opened = new Promise<void>((resolve, reject) => {
      markOpen = resolve;
      markFailed = reject;
    });
    opened.catch(() => undefined); // observed by connect(); not every connection has a waiter
    const conn: Connection = { connId, peer, open: false, opened, drainWaiters: [] };
    this.connections.set(id, conn);
    peer.on('signal', (signal: SimplePeer.SignalData) => this.init.relay(id, { connId, signal }));
    peer.on('connect', () => {
      conn.open = true;
      markOpen();
    });
    peer.on('data', (data: Uint8Array) => {
      for (const handler of this.frameHandlers) handler(id, data);
    });
    peer.on('drain', () => {
      for (const waiter of conn.drainWaiters.splice(0)) waiter.resolve();
    });
    const onGone = (err?: Error): void => {
      markFailed(new PeerLeftError(id, err ? `channel to ${id} failed: ${err.message}` : `channel to ${id} closed`));
      if (this.connections.get(id) === conn) this.drop(id);
    };
    peer.on('close', () => onGone());
    peer.on('error', (err: Error) => onGone(err));
    for (const wake of [...(this.offerWaiters.get(id) ?? [])]) wake();
    return conn;
  }

  private drop(id: string): void {
    const conn = this.connections.get(id);
    if (!conn) return;
    this.connections.delete(id);
    conn.open = false;
    conn.peer.destroy();
    for (const waiter of conn.drainWaiters.splice(0)) waiter.reject(new PeerLeftError(id, `channel to ${id} closed`));
    for (const handler of this.closeHandlers) handler(id);
  }
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
}

