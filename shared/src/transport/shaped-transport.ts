/**
 * A Transport wrapped so that the frames this peer sends travel as over a slower, farther or
 * lossier link (see ../link.ts for the settings). Each destination peer has its own link:
 *
 * 1. Bandwidth: a token bucket filled at the link's rate, at most BURST_MS of traffic deep. A frame
 *    leaves once the bucket can pay for all its bytes (a frame bigger than the bucket waits out the
 *    difference), so over more than a few frames the link carries its rate and no more. Bytes are
 *    frame bytes: the real channel's SCTP/DTLS/UDP/IP overhead (a few %) is not modelled.
 * 2. Latency and jitter: the frame reaches the wrapped transport `latency + uniform[0, jitter]` ms
 *    after it left the bucket, but never before the frame ahead of it: data channels are ordered, so
 *    jitter delays frames and never reorders them.
 * 3. Loss: `loss` is the probability that one packet (PACKET_BYTES of a frame) is lost, as in
 *    Chromium's own emulation. Our channels are reliable (SCTP retransmits) and the protocol relies
 *    on that, so nothing is dropped here (a dropped frame would only surface as a step timeout):
 *    a lost packet is sent again after a retransmission timeout, RETRANSMIT_FLOOR_MS + 2 x latency,
 *    doubled each time the same packet is lost again, and its bytes are paid again in the bucket
 *    (when the frame first leaves, a simplification). The frame arrives when its slowest packet
 *    does; frames behind it wait (head-of-line blocking, as on an ordered channel). Not modelled:
 *    SCTP's congestion control, which after a loss also slows the sender, so real channels lose
 *    far more throughput to loss than this model does.
 *
 * Only what this peer sends is shaped. With the same settings on both ends a round trip takes
 * 2 x latency and each direction gets the full bandwidth.
 *
 * `send()` keeps the Transport's backpressure: it resolves when the frame has left the bucket (not
 * when it arrives) and, beyond that, while the wrapped transport pushes back. A sender can therefore
 * queue no more than one bucket plus the frames in flight for the latency.
 *
 * Timers are setTimeout. Chromium coarsens them to ~1 s in hidden tabs only (run such tabs with
 * --disable-background-timer-throttling, as e2e does); in a visible tab or in Node they keep ~1 ms,
 * and the bucket's depth absorbs a late timer without losing rate.
 */
import { PeerLeftError } from '../errors.ts';
import type { LinkSettings } from '../link.ts';
import { Rng } from '../rng.ts';
import type { Transport } from './transport.ts';

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
}

interface InFlight {
  /** When the frame reaches the wrapped transport (performance.now() time). */
  at: number;
  frame: Uint8Array;
}

interface Link {
  /** Bucket content in bytes at time `creditAt`; negative while frames wait to leave. */
  credit: number;
  creditAt: number;
  /** Arrival time of the last frame queued, to keep order under jitter and loss. */
  lastArrival: number;
  queue: InFlight[];
  pumping: boolean;
  /** Settles when the wrapped transport accepts the frame it is being handed. */
  innerBusy: Promise<void> | undefined;
  closed: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ignore = (): void => undefined;

export class ShapedTransport implements Transport {
  readonly link: Readonly<LinkSettings>;
  private readonly links = new Map<string, Link>();
  private readonly rng: Rng;
  private readonly retransmitMs: number;
  /** Bytes per millisecond; Infinity when not limited. */
  private readonly rate: number;

  constructor(private readonly inner: Transport, init: ShapedTransportInit) {
    this.link = { ...init.link };
    this.rng = Rng.derive(init.seed ?? 1, 'link-shaping', inner.selfId);
    this.retransmitMs = (init.retransmitFloorMs ?? RETRANSMIT_FLOOR_MS) + 2 * init.link.latencyMs;
    this.rate = init.link.bandwidthBitsPerSec === null ? Infinity : init.link.bandwidthBitsPerSec / 8 / 1000;
    inner.onPeerClosed((peerId) => this.close(peerId));
  }

  get selfId(): string {
    return this.inner.selfId;
  }

  async send(peerId: string, frame: Uint8Array): Promise<void> {
    if (!this.inner.connectedPeers().includes(peerId)) throw new PeerLeftError(peerId, `no open channel to ${peerId}`);
    let link = this.links.get(peerId);
    if (!link) {
      link = { credit: 0, creditAt: performance.now(), lastArrival: 0, queue: [], pumping: false, innerBusy: undefined, closed: false };
      this.links.set(peerId, link);
    }
    const now = performance.now();
    const { resentBytes, repairMs } = this.drawLosses(frame.length);
    const departure = this.pay(link, frame.length + resentBytes, now);
    const jitter = this.link.jitterMs > 0 ? this.rng.next() * this.link.jitterMs : 0;
    const at = Math.max(departure + this.link.latencyMs + jitter + repairMs, link.lastArrival);
    link.lastArrival = at;
    link.queue.push({ at, frame: frame.slice() }); // the caller may reuse its buffer once we resolve
    void this.pump(peerId, link);
    if (departure > now) await sleep(departure - now);
    while (link.innerBusy && !link.closed) await link.innerBusy;
    if (link.closed) throw new PeerLeftError(peerId, `channel to ${peerId} closed`);
  }

  onFrame(handler: (from: string, frame: Uint8Array) => void): () => void {
    return this.inner.onFrame(handler);
  }

  onPeerClosed(handler: (peerId: string) => void): () => void {
    return this.inner.onPeerClosed(handler);
  }

  connectedPeers(): string[] {
    return this.inner.connectedPeers();
  }

  /** Which packets of a frame are lost, how often: the bytes sent again and the delay of the slowest. */
  private drawLosses(bytes: number): { resentBytes: number; repairMs: number } {
    if (this.link.loss === 0) return { resentBytes: 0, repairMs: 0 };
    let resent = 0;
    let rounds = 0;
    for (let packet = 0; packet < Math.max(1, Math.ceil(bytes / PACKET_BYTES)); packet++) {
      let losses = 0;
      while (this.rng.next() < this.link.loss) losses++;
      resent += losses;
      rounds = Math.max(rounds, losses);
    }
    // The timeout doubles on every loss of the same packet: rto, then 2 rto, 4 rto, ...
    return { resentBytes: resent * PACKET_BYTES, repairMs: this.retransmitMs * (2 ** rounds - 1) };
  }

  /** Takes `bytes` from the link's bucket; returns when they have left (performance.now() time). */
  private pay(link: Link, bytes: number, now: number): number {
    if (this.rate === Infinity) return now;
    const depth = BURST_MS * this.rate;
    const credit = Math.min(depth, link.credit + (now - link.creditAt) * this.rate) - bytes;
    link.credit = credit;
    link.creditAt = now;
    return credit >= 0 ? now : now - credit / this.rate;
  }

  /**
   * Hands due frames to the wrapped transport in order. Frames due together go together, without
   * waiting on each other (both our transports queue frames in call order); the next batch waits
   * until the wrapped transport has room again.
   */
  private async pump(peerId: string, link: Link): Promise<void> {
    if (link.pumping) return;
    link.pumping = true;
    try {
      for (let next = link.queue[0]; next && !link.closed; next = link.queue[0]) {
        const now = performance.now();
        if (next.at > now) {
          await sleep(next.at - now);
          continue;
        }
        const due: Array<Promise<void>> = [];
        while (link.queue[0] && link.queue[0].at <= now) due.push(this.inner.send(peerId, link.queue.shift()!.frame));
        const accepted = Promise.all(due);
        link.innerBusy = accepted.then(ignore, ignore);
        await accepted;
        link.innerBusy = undefined;
      }
    } catch {
      // The wrapped transport lost the peer; it reports that through onPeerClosed.
      this.close(peerId, link);
    } finally {
      link.pumping = false;
    }
  }

  /** Frames still in flight to a closed peer are lost, as on a real channel. */
  private close(peerId: string, link = this.links.get(peerId)): void {
    if (!link) return;
    link.closed = true;
    link.queue.length = 0;
    link.innerBusy = undefined;
    if (this.links.get(peerId) === link) this.links.delete(peerId);
  }
}
