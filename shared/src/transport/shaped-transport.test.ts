import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNSHAPED, type LinkSettings } from '../link.ts';
import { ManualClock } from '../testing/manual-clock.ts';
import { transportContract } from '../testing/transport-contract.ts';
import { PeerLeftError } from '../errors.ts';
import { InMemoryNetwork } from './in-memory-transport.ts';
import { ShapedTransport } from './shaped-transport.ts';
import type { Transport } from './transport.ts';

transportContract('ShapedTransport over the in-memory transport', (ids) => {
  const network = new InMemoryNetwork();
  const link: LinkSettings = { bandwidthBitsPerSec: 100e6, latencyMs: 1, jitterMs: 1, loss: 0 };
  return { transports: ids.map((id, i) => new ShapedTransport(network.join(id), { link, seed: i + 1 })) };
});

/**
 * Two ends of a wire that hands every frame over at once, without timers: time then moves only
 * on the ShapedTransports' manual clock, and every figure below is exact.
 */
class WireEnd implements Transport {
  other!: WireEnd;
  private readonly frameHandlers = new Set<(from: string, frame: Uint8Array) => void>();
  private readonly closeHandlers = new Set<(peerId: string) => void>();
  open = true;

  constructor(readonly selfId: string) {}

  send(peerId: string, frame: Uint8Array): Promise<void> {
    if (!this.open || peerId !== this.other.selfId) return Promise.reject(new PeerLeftError(peerId));
    for (const h of this.other.frameHandlers) h(this.selfId, frame.slice());
    return Promise.resolve();
  }

  onFrame(handler: (from: string, frame: Uint8Array) => void): () => void {
    this.frameHandlers.add(handler);
    return () => this.frameHandlers.delete(handler);
  }

  onPeerClosed(handler: (peerId: string) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  connectedPeers(): string[] {
    return this.open ? [this.other.selfId] : [];
  }

  /** The wire is cut: both ends see the channel close. */
  close(): void {
    if (!this.open) return;
    this.open = this.other.open = false;
    for (const h of this.closeHandlers) h(this.other.selfId);
    for (const h of this.other.closeHandlers) h(this.selfId);
  }
}

/** Two peers on one wire, both ends shaped alike, on one manual clock. */
function pair(link: Partial<LinkSettings>, seed = 1) {
  const [wa, wb] = [new WireEnd('a'), new WireEnd('b')];
  wa.other = wb;
  wb.other = wa;
  const clock = new ManualClock();
  const settings = { ...UNSHAPED, ...link };
  const a = new ShapedTransport(wa, { link: settings, seed, clock });
  const b = new ShapedTransport(wb, { link: settings, seed: seed + 1, clock });
  return { clock, a, b, wire: wa };
}

/** A frame numbered `i` (first 4 bytes), `size` bytes long. */
function numbered(i: number, size = 64): Uint8Array {
  const frame = new Uint8Array(size);
  new DataView(frame.buffer).setUint32(0, i, true);
  return frame;
}

const numberOf = (frame: Uint8Array): number => new DataView(frame.buffer, frame.byteOffset).getUint32(0, true);

/** 8,192,000 bit/s is 1,024 bytes per millisecond: a 64 KiB frame takes exactly 64 ms. */
const RATE_BITS = 8_192_000;
const FRAME = 64 * 1024;

describe('shaped transport (manual clock)', () => {
  it('holds the sender to the link rate: 64 KiB frames at 1,024 B/ms arrive and resolve every 64 ms', async () => {
    const { clock, a, b } = pair({ bandwidthBitsPerSec: RATE_BITS });
    const arrivals: number[] = [];
    const resolved: number[] = [];
    b.onFrame(() => arrivals.push(clock.now()));
    const sending = (async () => {
      for (let i = 0; i < 10; i++) {
        await a.send('b', numbered(i, FRAME));
        resolved.push(clock.now());
      }
    })();
    await clock.advance(63);
    assert.deepEqual(arrivals, [], 'the first frame left before its bytes were paid for');
    await clock.advance(640 - 63);
    await sending;
    const every64 = Array.from({ length: 10 }, (_, i) => 64 * (i + 1));
    assert.deepEqual(arrivals, every64);
    assert.deepEqual(resolved, every64);
  });

  it('lets a burst of BURST_MS (5 ms = 5,120 B) through at once after an idle spell, then paces', async () => {
    const { clock, a, b } = pair({ bandwidthBitsPerSec: RATE_BITS });
    const arrivals: number[] = [];
    b.onFrame(() => arrivals.push(clock.now()));
    const first = a.send('b', numbered(0, 1024)); // the bucket starts empty: 1 ms
    await clock.advance(100);
    await first;
    const burst = Array.from({ length: 11 }, (_, i) => a.send('b', numbered(i + 1, 512)));
    await clock.advance(0);
    assert.deepEqual(arrivals, [1, ...new Array(10).fill(100)], 'ten 512-byte frames fill the 5,120-byte bucket');
    await clock.advance(0.5);
    await Promise.all(burst);
    assert.deepEqual(arrivals.slice(11), [100.5], 'the eleventh waits for its 512 bytes');
  });

  it('adds its latency on receipt: 40 ms each way is an 80 ms round trip', async () => {
    const { clock, a, b } = pair({ latencyMs: 40 });
    b.onFrame((from, frame) => void b.send(from, frame));
    const back: number[] = [];
    a.onFrame(() => back.push(clock.now()));
    await a.send('b', numbered(0));
    await clock.advance(79);
    assert.deepEqual(back, []);
    await clock.advance(1);
    assert.deepEqual(back, [80]);
  });

  it('keeps jitter within [latency, latency + jitter], never reorders, and draws it from the seed', async () => {
    const run = async (seed: number) => {
      const { clock, a, b } = pair({ latencyMs: 10, jitterMs: 30 }, seed);
      const sentAt: number[] = [];
      const delays: number[] = [];
      const order: number[] = [];
      b.onFrame((_, frame) => {
        order.push(numberOf(frame));
        delays.push(clock.now() - sentAt[numberOf(frame)]!);
      });
      for (let i = 0; i < 100; i++) {
        sentAt.push(clock.now());
        await a.send('b', numbered(i));
        await clock.advance(i % 10 === 9 ? 15 : 1);
      }
      await clock.advance(50);
      assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i));
      return delays;
    };
    const delays = await run(1);
    assert.ok(Math.min(...delays) >= 10, `shortest delay ${Math.min(...delays)} ms`);
    assert.ok(Math.max(...delays) <= 40, `longest delay ${Math.max(...delays)} ms`);
    assert.ok(Math.max(...delays) - Math.min(...delays) > 15, 'jitter spread under half its range over 100 frames');
    assert.deepEqual(await run(1), delays, 'the same seed draws the same jitter');
    assert.notDeepEqual(await run(2), delays);
  });

  it('turns loss into retransmission delays of (400 + 2 x latency) x (2^losses - 1) and loses no frame', async () => {
    const run = async (loss: number) => {
      const { clock, a, b } = pair({ latencyMs: 5, loss }, 7);
      const arrivals: number[] = [];
      b.onFrame(() => arrivals.push(clock.now()));
      for (let i = 0; i < 60; i++) {
        await a.send('b', numbered(i));
        await clock.advance(1);
      }
      await clock.advance(60_000);
      return arrivals;
    };
    assert.deepEqual(await run(0), Array.from({ length: 60 }, (_, i) => i + 5));
    const lossy = await run(0.1);
    assert.equal(lossy.length, 60);
    let retransmitted = 0;
    lossy.forEach((at, i) => {
      const late = at - (i + 5); // sent at i ms, 5 ms latency
      const rounds = Math.log2(late / 410 + 1);
      // Late by whole retransmission rounds, or held behind the frame ahead (head-of-line).
      assert.ok(Number.isInteger(rounds) || at === lossy[i - 1], `frame ${i} late by ${late} ms`);
      if (late >= 410 && at !== lossy[i - 1]) retransmitted++;
    });
    assert.ok(retransmitted >= 1 && retransmitted < 60, `${retransmitted} of 60 frames retransmitted`);
  });

  it('drops frames in flight when the channel closes, and rejects sends after it', async () => {
    const { clock, a, b, wire } = pair({ latencyMs: 50 });
    let arrived = 0;
    b.onFrame(() => arrived++);
    await a.send('b', numbered(1));
    wire.close();
    await clock.advance(80);
    assert.equal(arrived, 0);
    await assert.rejects(a.send('b', numbered(2)), { name: 'PeerLeftError' });
  });

  it('passes frames straight through, without waiting on the clock, when nothing is shaped', async () => {
    const { clock, a, b } = pair({});
    const got: number[] = [];
    b.onFrame((_, frame) => got.push(numberOf(frame)));
    for (let i = 0; i < 20; i++) await a.send('b', numbered(i, 256 * 1024));
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(clock.now(), 0);
    assert.equal(clock.pending, 0);
  });
});
