/**
 * An in-memory network for Node tests and simulations: every link delivers frames in order,
 * after `latencyMs` (+ uniform jitter) and at most `bandwidthBytesPerSec` (a queue per link).
 * Faults: `kill` a peer, `cut` one link (its channels close; `reconnect` opens them again), and a
 * per-frame `faultHook` that drops, duplicates or delays (and so reorders) frames.
 */
import { PeerLeftError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { oversizeFrameError, type Transport } from './transport.ts';

export interface InMemoryNetworkInit {
  /** One-way delay per frame. @default 0 */
  latencyMs?: number;
  /** Extra uniform random delay in [0, jitterMs]; frames on a link stay in order. @default 0 */
  jitterMs?: number;
  /** Per-link bandwidth; Infinity means instant. @default Infinity */
  bandwidthBytesPerSec?: number;
  /** Seed for jitter. @default 1 */
  seed?: number;
}

export type FrameFault = 'drop' | 'duplicate' | { delayMs: number };

type Handler = (from: string, frame: Uint8Array) => void;
type CloseHandler = (peerId: string) => void;

interface Link {
  /** Time (ms since epoch) at which the link's queue drains. */
  busyUntil: number;
  /** Delivery time of the last frame, to keep order under jitter. */
  lastDelivery: number;
  /**
   * Frames on their way, in order of (non-decreasing) delivery time, under one timer: one timer
   * per frame would not keep them in order, as timers of different lengths may fire in any order
   * within a millisecond.
   */
  inFlight: Array<{ at: number; deliver(): void }>;
}

export class InMemoryNetwork {
  private readonly nodes = new Map<string, InMemoryTransport>();
  private readonly links = new Map<string, Link>();
  private readonly rng: Rng;
  /** Per-frame fault hook: drop, duplicate, or deliver `delayMs` late (out of order); undefined = normal. */
  faultHook: ((from: string, to: string, frame: Uint8Array) => FrameFault | undefined) | undefined;
  private readonly cutLinks = new Set<string>();

  constructor(readonly init: InMemoryNetworkInit = {}) {
    this.rng = new Rng(init.seed ?? 1);
  }

  /** Adds a peer connected to every other live peer. */
  join(peerId: string): InMemoryTransport {
    if (this.nodes.has(peerId)) throw new Error(`peer ${peerId} already joined`);
    const node = new InMemoryTransport(peerId, this);
    this.nodes.set(peerId, node);
    return node;
  }

  /** The peer vanishes: its links close for everyone, frames in flight to or from it are lost. */
  kill(peerId: string): void {
    const node = this.nodes.get(peerId);
    if (!node) return;
    this.nodes.delete(peerId);
    node.markClosed();
    for (const other of this.nodes.values()) other.emitClosed(peerId);
  }

  isAlive(peerId: string): boolean {
    return this.nodes.has(peerId);
  }

  /** The channel between a and b closes (both stay alive); frames in flight on it are lost. */
  cut(a: string, b: string): void {
    this.cutLinks.add(linkKey(a, b));
    this.nodes.get(a)?.emitClosed(b);
    this.nodes.get(b)?.emitClosed(a);
  }

  /** Opens again every cut link between `peerId` and `others` (what a WebRTC reconnect does). */
  reconnect(peerId: string, others: readonly string[]): void {
    for (const other of others) this.cutLinks.delete(linkKey(peerId, other));
  }

  peersOf(peerId: string): string[] {
    if (!this.nodes.has(peerId)) return [];
    return [...this.nodes.keys()].filter((id) => id !== peerId && !this.cutLinks.has(linkKey(peerId, id)));
  }

  /** Schedules delivery; resolves when the frame has left the sender (its link queue). */
  transmit(from: string, to: string, frame: Uint8Array): Promise<void> {
    if (!this.nodes.has(from)) return Promise.reject(new PeerLeftError(from, `peer ${from} is closed`));
    if (!this.nodes.has(to) || this.cutLinks.has(linkKey(from, to))) return Promise.reject(new PeerLeftError(to));
    const copy = frame.slice(); // the sender may reuse its buffer
    const fault = this.faultHook?.(from, to, copy);
    const key = `${from}>${to}`;
    const link = this.links.get(key) ?? { busyUntil: 0, lastDelivery: 0, inFlight: [] };
    this.links.set(key, link);
    const now = Date.now();
    const bandwidth = this.init.bandwidthBytesPerSec ?? Infinity;
    const sendTime = Number.isFinite(bandwidth) ? (copy.length / bandwidth) * 1000 : 0;
    link.busyUntil = Math.max(now, link.busyUntil) + sendTime;
    const jitter = this.init.jitterMs ? this.rng.next() * this.init.jitterMs : 0;
    const delivery = Math.max(link.busyUntil + (this.init.latencyMs ?? 0) + jitter, link.lastDelivery);
    link.lastDelivery = delivery;
    const deliver = (): void => {
      if (!this.nodes.has(from) || this.cutLinks.has(linkKey(from, to))) return; // lost in flight
      this.nodes.get(to)?.emitFrame(from, copy);
    };
    if (typeof fault === 'object') setTimeout(deliver, delivery - now + fault.delayMs); // out of order on purpose
    else if (fault !== 'drop') {
      link.inFlight.push({ at: delivery, deliver });
      if (link.inFlight.length === 1) armDelivery(link);
      if (fault === 'duplicate') setTimeout(deliver, delivery - now);
    }
    // Backpressure: the sender may go on once its bytes left the link queue.
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, link.busyUntil - now)));
  }
}

/** Delivers a link's frames that are due, in order, then waits for the next one. */
function armDelivery(link: Link): void {
  setTimeout(() => {
    const now = Date.now();
    while (link.inFlight[0] && link.inFlight[0].at <= now) link.inFlight.shift()!.deliver();
    if (link.inFlight.length > 0) armDelivery(link);
  }, Math.max(0, link.inFlight[0]!.at - Date.now()));
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class InMemoryTransport implements Transport {
  private readonly frameHandlers = new Set<Handler>();
  private readonly closeHandlers = new Set<CloseHandler>();
  private closed = false;

  constructor(readonly selfId: string, private readonly network: InMemoryNetwork) {}

  send(peerId: string, frame: Uint8Array): Promise<void> {
    const oversize = oversizeFrameError(frame);
    if (oversize) return Promise.reject(oversize);
    if (this.closed) return Promise.reject(new PeerLeftError(peerId, `this transport (${this.selfId}) is closed`));
    return this.network.transmit(this.selfId, peerId, frame);
  }

  /** Leaves the network: this side and every peer see the channels close. Idempotent. */
  close(): void {
    if (this.closed || !this.network.isAlive(this.selfId)) return;
    const peers = this.connectedPeers();
    this.network.kill(this.selfId);
    for (const peerId of peers) this.emitClosed(peerId);
  }

  onFrame(handler: Handler): () => void {
    this.frameHandlers.add(handler);
    return () => this.frameHandlers.delete(handler);
  }

  onPeerClosed(handler: CloseHandler): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  connectedPeers(): string[] {
    return this.network.peersOf(this.selfId);
  }

  /** @internal */
  emitFrame(from: string, frame: Uint8Array): void {
    if (this.closed) return;
    for (const h of this.frameHandlers) h(from, frame);
  }

  /** @internal */
  emitClosed(peerId: string): void {
    for (const h of this.closeHandlers) h(peerId);
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }
}
