/**
 * An in-memory network for Node tests and simulations: every link delivers frames in order,
 * after `latencyMs` (+ uniform jitter) and at most `bandwidthBytesPerSec` (a queue per link).
 * Faults are injected with `kill`, `dropFrames` and `duplicateFrames`.
 */
import { PeerLeftError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { Transport } from './transport.ts';

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

type Handler = (from: string, frame: Uint8Array) => void;
type CloseHandler = (peerId: string) => void;

interface Link {
  /** Time (ms since epoch) at which the link's queue drains. */
  busyUntil: number;
  /** Delivery time of the last frame, to keep order under jitter. */
  lastDelivery: number;
}

export class InMemoryNetwork {
  private readonly nodes = new Map<string, InMemoryTransport>();
  private readonly links = new Map<string, Link>();
  private readonly rng: Rng;
  /** Per-frame fault hook: return 'drop', 'duplicate' or undefined to deliver normally. */
  faultHook: ((from: string, to: string, frame: Uint8Array) => 'drop' | 'duplicate' | undefined) | undefined;

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

  peersOf(peerId: string): string[] {
    return this.nodes.has(peerId) ? [...this.nodes.keys()].filter((id) => id !== peerId) : [];
  }

  /** Schedules delivery; resolves when the frame has left the sender (its link queue). */
  transmit(from: string, to: string, frame: Uint8Array): Promise<void> {
    if (!this.nodes.has(from)) return Promise.reject(new PeerLeftError(from, `peer ${from} is closed`));
    if (!this.nodes.has(to)) return Promise.reject(new PeerLeftError(to));
    const copy = frame.slice(); // the sender may reuse its buffer
    const fault = this.faultHook?.(from, to, copy);
    const key = `${from}>${to}`;
    const link = this.links.get(key) ?? { busyUntil: 0, lastDelivery: 0 };
    this.links.set(key, link);
    const now = Date.now();
    const bandwidth = this.init.bandwidthBytesPerSec ?? Infinity;
    const sendTime = Number.isFinite(bandwidth) ? (copy.length / bandwidth) * 1000 : 0;
    link.busyUntil = Math.max(now, link.busyUntil) + sendTime;
    const jitter = this.init.jitterMs ? this.rng.next() * this.init.jitterMs : 0;
    const delivery = Math.max(link.busyUntil + (this.init.latencyMs ?? 0) + jitter, link.lastDelivery);
    link.lastDelivery = delivery;
    const deliver = (): void => {
      if (!this.nodes.has(from)) return; // died while the frame was in flight
      this.nodes.get(to)?.emitFrame(from, copy);
    };
    if (fault !== 'drop') {
      setTimeout(deliver, delivery - now);
      if (fault === 'duplicate') setTimeout(deliver, delivery - now);
    }
    // Backpressure: the sender may go on once its bytes left the link queue.
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, link.busyUntil - now)));
  }
}

export class InMemoryTransport implements Transport {
  private readonly frameHandlers = new Set<Handler>();
  private readonly closeHandlers = new Set<CloseHandler>();
  private closed = false;

  constructor(readonly selfId: string, private readonly network: InMemoryNetwork) {}

  send(peerId: string, frame: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new PeerLeftError(this.selfId, 'this transport is closed'));
    return this.network.transmit(this.selfId, peerId, frame);
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
