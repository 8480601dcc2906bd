import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNSHAPED, type LinkSettings } from '../link.ts';
import { InMemoryNetwork } from './in-memory-transport.ts';
import { ShapedTransport } from './shaped-transport.ts';

/** Two peers over an in-memory network that adds nothing of its own; both ends shaped alike. */
function pair(link: Partial<LinkSettings>, seed = 1) {
  const network = new InMemoryNetwork();
  const settings = { ...UNSHAPED, ...link };
  const a = new ShapedTransport(network.join('a'), { link: settings, seed });
  const b = new ShapedTransport(network.join('b'), { link: settings, seed: seed + 1 });
  return { network, a, b };
}

/** A frame numbered `i` (first 4 bytes), `size` bytes long. */
function numbered(i: number, size = 64): Uint8Array {
  const frame = new Uint8Array(size);
  new DataView(frame.buffer).setUint32(0, i, true);
  return frame;
}

const numberOf = (frame: Uint8Array): number => new DataView(frame.buffer, frame.byteOffset).getUint32(0, true);

describe('shaped transport', () => {
  it('carries 10 Mbit/s within 10 % over 2.5 MB, and send() resolves at the bucket rate', async () => {
    const { a, b } = pair({ bandwidthBitsPerSec: 10e6 });
    const frames = 40;
    const frameBytes = 64 * 1024;
    let received = 0;
    let lastArrival = 0;
    b.onFrame(() => {
      received += frameBytes;
      lastArrival = performance.now();
    });
    const start = performance.now();
    const resolvedAt: number[] = [];
    for (let i = 0; i < frames; i++) {
      await a.send('b', numbered(i, frameBytes));
      resolvedAt.push(performance.now() - start);
    }
    const sendSeconds = (performance.now() - start) / 1000;
    while (received < frames * frameBytes) await new Promise((r) => setTimeout(r, 5));
    const bits = frames * frameBytes * 8;
    const measured = bits / ((lastArrival - start) / 1000);
    console.log(`set 10 Mbit/s, measured ${(measured / 1e6).toFixed(3)} Mbit/s over ${(frames * frameBytes / 1e6).toFixed(2)} MB`);
    assert.ok(Math.abs(measured - 10e6) / 10e6 < 0.1, `measured ${measured} bit/s`);
    // Backpressure: the sender was held to the link's rate, not let through at once.
    assert.ok(Math.abs(bits / sendSeconds - 10e6) / 10e6 < 0.1, `sends went at ${bits / sendSeconds} bit/s`);
    // Each send waited for its own frame: ~52 ms per 64 KiB frame at 10 Mbit/s.
    const perFrame = (resolvedAt.at(-1)! - resolvedAt[0]!) / (frames - 1);
    assert.ok(Math.abs(perFrame - (frameBytes * 8) / 10e3) < 5, `${perFrame} ms per frame`);
  });

  it('adds its latency to each direction: 40 ms each way is an 80 ms round trip', async () => {
    const { a, b } = pair({ latencyMs: 40 });
    b.onFrame((from, frame) => void b.send(from, frame));
    const rtts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const sent = performance.now();
      const back = new Promise<void>((resolve) => {
        const off = a.onFrame(() => {
          off();
          resolve();
        });
      });
      await a.send('b', numbered(i));
      await back;
      rtts.push(performance.now() - sent);
    }
    rtts.sort((x, y) => x - y);
    const median = rtts[rtts.length >> 1]!;
    console.log(`set latency 40 ms on both ends, round trips ${rtts.map((r) => r.toFixed(1)).join(' ')} ms`);
    assert.ok(rtts[0]! >= 79, `shortest round trip ${rtts[0]} ms`);
    assert.ok(median < 90, `median round trip ${median} ms`);
  });

  it('keeps jitter within [latency, latency + jitter] and never reorders', async () => {
    const { a, b } = pair({ latencyMs: 10, jitterMs: 30 });
    const sentAt = new Map<number, number>();
    const delays: number[] = [];
    const order: number[] = [];
    b.onFrame((_, frame) => {
      const i = numberOf(frame);
      order.push(i);
      delays.push(performance.now() - sentAt.get(i)!);
    });
    for (let i = 0; i < 100; i++) {
      sentAt.set(i, performance.now());
      await a.send('b', numbered(i));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 15)); // let some frames be overtaken
    }
    while (order.length < 100) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i));
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    assert.ok(min >= 9.5, `shortest delay ${min} ms`);
    assert.ok(max <= 10 + 30 + 15, `longest delay ${max} ms`); // + timer slack on a busy machine
    assert.ok(max - min > 15, `jitter spread only ${max - min} ms`);
  });

  it('turns loss into retransmission delay and never loses a frame', async () => {
    const run = async (loss: number) => {
      const { a, b } = pair({ latencyMs: 5, loss }, 7);
      const sentAt = new Map<number, number>();
      const delays: number[] = [];
      b.onFrame((_, frame) => delays.push(performance.now() - sentAt.get(numberOf(frame))!));
      for (let i = 0; i < 60; i++) {
        sentAt.set(i, performance.now());
        await a.send('b', numbered(i));
        await new Promise((r) => setTimeout(r, 1));
      }
      while (delays.length < 60) await new Promise((r) => setTimeout(r, 5));
      return delays;
    };
    const clean = await run(0);
    const lossy = await run(0.1);
    assert.equal(lossy.length, 60);
    assert.ok(Math.max(...clean) < 100, `clean link delayed a frame ${Math.max(...clean)} ms`);
    // A 64-byte frame is one packet; losing it costs the 400 ms retransmission timeout.
    const retransmitted = lossy.filter((d) => d >= 400).length;
    assert.ok(retransmitted >= 1, 'no frame was delayed by a retransmission');
    assert.ok(retransmitted < 60, 'every frame was delayed');
  });

  it('rejects a send to a peer that is not connected, and drops frames in flight when the peer leaves', async () => {
    const { network, a, b } = pair({ latencyMs: 50 });
    await assert.rejects(a.send('nobody', numbered(0)), { name: 'PeerLeftError' });
    let arrived = 0;
    b.onFrame(() => arrived++);
    await a.send('b', numbered(1));
    network.kill('b');
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(arrived, 0);
    await assert.rejects(a.send('b', numbered(2)), { name: 'PeerLeftError' });
  });

  it('passes frames straight through when nothing is shaped', async () => {
    const { a, b } = pair({});
    const got: number[] = [];
    b.onFrame((_, frame) => got.push(numberOf(frame)));
    const start = performance.now();
    for (let i = 0; i < 20; i++) await a.send('b', numbered(i, 256 * 1024));
    while (got.length < 20) await new Promise((r) => setTimeout(r, 1));
    assert.ok(performance.now() - start < 200);
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  });
});
