/**
 * A Transport wrapped so that this peer's links look slower, farther or lossier (settings in
 * ../link.ts). Each peer shapes its own side of every link, each link on its own:
 *
 * 1. Bandwidth, on what it sends: a token bucket per destination, filled at the link's rate and at
 *    most BURST_MS of traffic deep. A frame leaves once the bucket can pay for all its bytes (a
 *    frame bigger than the bucket waits out the difference), so over more than a few frames the
 *    link carries its rate and no more. Bytes are frame bytes: the real channel's SCTP/DTLS/UDP/IP
 *    overhead (~5 % measured) is not counted. `send()` keeps the Transport's backpressure: it
 *    resolves once the frame has left the bucket and the wrapped transport has taken it.
 * 2. Latency and jitter, on what it receives: a frame from a peer is handed on `latency +
 *    uniform[0, jitter]` ms after it arrived, never before the frame ahead of it (data channels are
 *    ordered: jitter delays frames, never reorders them). Delaying on arrival rather than before
 *    sending matters in a tab: a timer cannot fire while the page's main thread is busy (training,
 *    drawing), and a sender-side timer would add that busy time to the link, where a real network
 *    would carry the bytes meanwhile. Measured in Chromium: sender-side, 40 ms came out as ~57.
 * 3. Loss, on what it receives: `loss` is the probability that one packet (PACKET_BYTES of a frame)
 *    is lost, as in Chromium's own emulation. Our channels are reliable (SCTP retransmits) and the
 *    protocol relies on it, so nothing is dropped here (a dropped frame would only surface as a
 *    step timeout): a lost packet comes a retransmission timeout later, RETRANSMIT_FLOOR_MS +
 *    2 x latency, doubled each time the same packet is lost again; the frame waits for its slowest
 *    packet and the frames behind it wait for it (head-of-line blocking). Not modelled: the
 *    retransmitted bytes, and SCTP's congestion control, which after a loss also slows the sender,
 *    so real channels lose far more throughput to loss than this model does.
 *
 * With the same settings on both ends, a round trip takes 2 x latency and each direction gets the
 * full bandwidth.
 *
 * Timers are setTimeout (through an injectable clock, so tests drive time themselves). Chromium
 * coarsens them to ~1 s in hidden tabs only (run such tabs with --disable-background-timer-throttling,
 * as e2e does); in a visible tab or in Node they keep ~1 ms (4 ms when nested), and the bucket's
 * depth absorbs a late timer without losing rate.
 */
import { PeerLeftError } from '../errors.ts';
import type { LinkSettings } from '../link.ts';
import { Rng } from '../rng.ts';
import { oversizeFrameError, type Transport } from './transport.ts';

/** Bucket depth in milliseconds of traffic: enough to absorb timer lateness, too little to burst. */
const BURST_MS = 5;
/** Bytes per packet on a data channel (Chromium's SCTP packets carry ~1,200 bytes of data). */
const PACKET_BYTES = 1200;
/**
 * Least retransmission timeout. Measured in Chromium 156 with CDP packet loss: a lost small
 * message arrives ~400 ms + one round trip late, ~1.2 s if lost twice (the timeout doubles).
 */
const RETRANSMIT_FLOOR_MS = 400;

export interface ShapedTransportInit {
  link: LinkSettings;
  /** Seed of the jitter and loss draws, mixed with this peer's id. @default 1 */
  seed?: number;
  /** Least retransmission timeout of a lost packet. @default 400 */
  retransmitFloorMs?: number;
  /** Where time comes from. @default the real one (performance.now and setTimeout) */
  clock?: Clock;
}

/** Milliseconds on a monotonic clock, and a wait on it. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

type FrameHandler = (from: string, frame: Uint8Array) => void;

const ignore = (): void => undefined;

/** Frames that come out in order, each not before its time, in batches of those due together. */
class DelayLine {
  private readonly queue: Array<{ at: number; frame: Uint8Array; settle: (err?: Error) => void }> = [];
  private lastAt = 0;
  private running = false;
  closed = false;

  constructor(
    private readonly peerId: string,
    private readonly clock: Clock,
    private readonly deliver: (frames: Uint8Array[]) => Promise<unknown> | void,
  ) {}

  /** Resolves once the frame has come out (and `deliver` has settled). */
  push(at: number, frame: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new PeerLeftError(this.peerId, `channel to ${this.peerId} closed`));
    this.lastAt = Math.max(at, this.lastAt);
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ at: this.lastAt, frame, settle: (err) => (err ? reject(err) : resolve()) });
    });
    void this.run();
    return done;
  }

  /** Frames still in the line are lost, as on a real channel that closes. */
  close(): void {
    this.closed = true;
    for (const item of this.queue.splice(0)) item.settle(new PeerLeftError(this.peerId, `channel to ${this.peerId} closed`));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let first = this.queue[0]; first && !this.closed; first = this.queue[0]) {
        const now = this.clock.now();
        if (first.at > now) {
          await this.clock.sleep(first.at - now);
          continue;
        }
        let due = 1;
        while (this.queue[due] && this.queue[due]!.at <= now) due++;
        const batch = this.queue.splice(0, due);
        try {
          await this.deliver(batch.map((item) => item.frame));
          for (const item of batch) item.settle();
        } catch (err) {
          for (const item of batch) item.settle(err instanceof Error ? err : new Error(String(err)));
          this.close();
        }
      }
    } finally {
      this.running = false;
    }
  }
}

export class ShapedTransport implements Transport {
  readonly link: Readonly<LinkSettings>;
  private readonly outgoing = new Map<string, { credit: number; creditAt: number; line: DelayLine }>();
  private readonly incoming = new Map<string, DelayLine>();
  private readonly handlers = new Set<FrameHandler>();
  private readonly rng: Rng;
  private readonly retransmitMs: number;
  /** Bytes per millisecond; Infinity when not limited. */
  private readonly rate: number;
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly inner: Transport, init: ShapedTransportInit) {
    this.link = { ...init.link };
    this.clock = init.clock ?? REAL_CLOCK;
    this.rng = Rng.derive(init.seed ?? 1, 'link-shaping', inner.selfId);
    this.retransmitMs = (init.retransmitFloorMs ?? RETRANSMIT_FLOOR_MS) + 2 * init.link.latencyMs;
    this.rate = init.link.bandwidthBitsPerSec === null ? Infinity : init.link.bandwidthBitsPerSec / 8 / 1000;
    inner.onFrame((from, frame) => this.arrive(from, frame));
    inner.onPeerClosed((peerId) => {
      this.outgoing.get(peerId)?.line.close();
      this.outgoing.delete(peerId);
      this.incoming.get(peerId)?.close();
      this.incoming.delete(peerId);
    });
  }

  get selfId(): string {
    return this.inner.selfId;
  }

  send(peerId: string, frame: Uint8Array): Promise<void> {
    // Checked here, not left to the inner transport, so an oversized frame never takes tokens.
    const oversize = oversizeFrameError(frame);
    if (oversize) return Promise.reject(oversize);
    if (this.closed || !this.inner.connectedPeers().includes(peerId)) return Promise.reject(new PeerLeftError(peerId, `no open channel to ${peerId}`));
    const now = this.clock.now();
    let out = this.outgoing.get(peerId);
    if (!out || out.line.closed) {
      const line = new DelayLine(peerId, this.clock, (frames) => Promise.all(frames.map((f) => this.inner.send(peerId, f))));
      out = { credit: 0, creditAt: now, line };
      this.outgoing.set(peerId, out);
    }
    // Take the bytes from the bucket; they have left when it is back to zero.
    let departure = now;
    if (this.rate !== Infinity) {
      out.credit = Math.min(BURST_MS * this.rate, out.credit + (now - out.creditAt) * this.rate) - frame.length;
      out.creditAt = now;
      if (out.credit < 0) departure = now - out.credit / this.rate;
    }
    return out.line.push(departure, frame.slice()); // the caller may reuse its buffer once we resolve
  }

  onFrame(handler: FrameHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onPeerClosed(handler: (peerId: string) => void): () => void {
    return this.inner.onPeerClosed(handler);
  }

  connectedPeers(): string[] {
    return this.closed ? [] : this.inner.connectedPeers();
  }

  /** Frames still delayed here are lost, as on a real channel that closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const out of this.outgoing.values()) out.line.close();
    for (const line of this.incoming.values()) line.close();
    this.outgoing.clear();
    this.incoming.clear();
    this.inner.close();
  }

  private arrive(from: string, frame: Uint8Array): void {
    if (this.closed) return;
    const { latencyMs, jitterMs, loss } = this.link;
    if (latencyMs === 0 && jitterMs === 0 && loss === 0) return this.dispatch(from, [frame]);
    let line = this.incoming.get(from);
    if (!line || line.closed) {
      line = new DelayLine(from, this.clock, (frames) => this.dispatch(from, frames));
      this.incoming.set(from, line);
    }
    const jitter = jitterMs > 0 ? this.rng.next() * jitterMs : 0;
    line.push(this.clock.now() + latencyMs + jitter + this.repairMs(frame.length), frame).catch(ignore);
  }

  private dispatch(from: string, frames: Uint8Array[]): void {
    if (!this.connectedPeers().includes(from)) return; // the channel closed while they were delayed
    for (const frame of frames) for (const handler of this.handlers) handler(from, frame);
  }

  /** How late retransmissions make a frame: its packets' losses drawn one by one. */
  private repairMs(bytes: number): number {
    if (this.link.loss === 0) return 0;
    let rounds = 0;
    for (let packet = 0; packet < Math.max(1, Math.ceil(bytes / PACKET_BYTES)); packet++) {
      let losses = 0;
      while (this.rng.next() < this.link.loss) losses++;
      rounds = Math.max(rounds, losses);
    }
    // The timeout doubles on every loss of the same packet: rto, then 2 rto, 4 rto, ...
    return this.retransmitMs * (2 ** rounds - 1);
  }
}
