/**
 * The pipelined ring: the same bits as the ring's summation order whatever the chunk size, the
 * frames each hop sends, and hop h+1 under way before hop h has fully arrived.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../rng.ts';
import { createLocalGroup } from '../testing/local-group.ts';
import { decodeFrame, HEADER_BYTES, MessageKind } from '../wire/frame.ts';

const vector = (length: number, seed: number): Float32Array => new Rng(seed).fillGaussian(new Float32Array(length)) as Float32Array;
const bitsOf = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

/**
 * The ring's order, written out: segment k starts as peer k's values; peer k+1 adds its own to
 * the partial sum it received, then peer k+2, ... (f32 after every addition).
 */
function ringOrderSum(xs: Float32Array[]): Float32Array {
  const n = xs.length;
  const length = xs[0]!.length;
  const out = new Float32Array(length);
  const partial = new Float32Array(1);
  for (let k = 0; k < n; k++) {
    for (let i = Math.floor((k * length) / n); i < Math.floor(((k + 1) * length) / n); i++) {
      partial[0] = xs[k]![i]!;
      for (let j = 1; j < n; j++) partial[0] = xs[(k + j) % n]![i]! + partial[0]!;
      out[i] = partial[0]!;
    }
  }
  return out;
}

describe('pipelined ring all-reduce', () => {
  for (const n of [2, 3, 4, 5, 6, 7, 8]) {
    it(`N=${n}: every chunk size gives the ring-order bits on every peer (odd lengths, empty segments)`, async () => {
      for (const length of [1, n - 1, 2 * n + 1, 1009]) {
        const xs = Array.from({ length: n }, (_, r) => vector(length, 1000 * n + 10 * r + length));
        const expected = bitsOf(ringOrderSum(xs));
        // One value per frame only on the short lengths: a frame per value is slow to simulate.
        for (const chunkValues of length < 100 ? [1, 3, 64, 1 << 16] : [3, 64, 1 << 16]) {
          const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues });
          try {
            const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 9));
            results.forEach((result, rank) => assert.ok(bitsOf(result).equals(expected), `length ${length}, chunk ${chunkValues}: peer ${rank}`));
            assert.deepEqual(group.messengers.map((m) => m.pendingReceives), new Array<number>(n).fill(0));
          } finally {
            group.close();
          }
        }
      }
    });
  }

  it('default routing: every peer sends exactly its ring share of the payload, small vectors too; all together 2(N-1) vectors', async () => {
    for (const n of [2, 3, 4, 6]) {
      for (const length of [5, 1064, 4426, 100_000]) {
        const group = createLocalGroup(n);
        try {
          const xs = Array.from({ length: n }, (_, r) => vector(length, r));
          await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
          const segment = (i: number): number => Math.floor(((i + 1) * length) / n) - Math.floor((i * length) / n);
          const sent = group.messengers.map((m) => m.stats.payloadBytesSent);
          // Two peers exchange directly (the same bytes in one hop); from three on, every vector rides the ring.
          const expected = group.messengers.map((_, r) => 4 * (n === 2 ? length : 2 * length - segment((r + 1) % n) - segment((r + 2) % n)));
          assert.deepEqual(sent, expected, `N=${n} length ${length}`);
          assert.equal(sent.reduce((a, b) => a + b, 0), 2 * (n - 1) * 4 * length, `N=${n} length ${length}: total`);
        } finally {
          group.close();
        }
      }
    }
  });

  it('f16 wire: identical bits on every peer for every chunk size, and the same as one frame per segment', async () => {
    const n = 4;
    const xs = Array.from({ length: n }, (_, r) => vector(777, 50 + r));
    let reference: Buffer | undefined;
    for (const chunkValues of [1 << 17, 5, 1]) {
      const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues });
      try {
        const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0, { wire: 'f16' }));
        reference ??= bitsOf(results[0]!);
        for (const result of results) assert.ok(bitsOf(result).equals(reference), `chunk ${chunkValues}`);
      } finally {
        group.close();
      }
    }
  });

  it('sends each segment in frames of at most chunkValues values: frames and bytes as planned', async () => {
    const n = 3;
    const length = 1000; // segments of 333, 333, 334 values
    const chunkValues = 100; // 4 chunks each
    const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues });
    const payloads: number[] = [];
    group.network.faultHook = (_from, _to, bytes) => {
      payloads.push(decodeFrame(bytes).payload.length);
      return undefined;
    };
    try {
      const xs = Array.from({ length: n }, (_, r) => vector(length, r));
      await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
      const segment = (i: number): number => Math.floor(((i + 1) * length) / n) - Math.floor((i * length) / n);
      group.messengers.forEach((m, r) => {
        // Peer r sends every segment but r+1 in the reduce-scatter and every one but r+2 in the all-gather.
        const values = 2 * length - segment((r + 1) % n) - segment((r + 2) % n);
        const frames = 2 * (n - 1) * 4;
        assert.equal(m.stats.framesSent, frames, `peer ${r} frames`);
        assert.equal(m.stats.bytesSent, 4 * values + frames * HEADER_BYTES, `peer ${r} bytes`);
      });
      assert.ok(payloads.every((p) => p <= 4 * chunkValues && p > 0), `payload sizes ${[...new Set(payloads)].join(', ')}`);
    } finally {
      group.close();
    }
  });

  it('hop h+1 leaves a peer before the last chunk of hop h has reached it', async () => {
    const n = 3;
    // 2 MB/s links and 4 kB chunks: a segment of 20 chunks takes ~40 ms to cross one link.
    const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues: 1000, bandwidthBytesPerSec: 2e6 });
    const events: Array<{ what: 'sent' | 'arrived'; peer: string; kind: MessageKind; hop: number }> = [];
    const hopOf = (seq: number): number => Math.floor(seq / 20);
    group.network.faultHook = (from, _to, bytes) => {
      const f = decodeFrame(bytes);
      events.push({ what: 'sent', peer: from, kind: f.kind, hop: hopOf(f.seq) });
      return undefined;
    };
    group.messengers.forEach((m) =>
      m.transport.onFrame((_from, bytes) => {
        const f = decodeFrame(bytes);
        events.push({ what: 'arrived', peer: m.selfId, kind: f.kind, hop: hopOf(f.seq) });
      }),
    );
    try {
      const xs = Array.from({ length: n }, (_, r) => vector(60_000, r));
      await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
      for (const peer of group.ids) {
        const firstHop1Sent = events.findIndex((e) => e.what === 'sent' && e.peer === peer && e.kind === MessageKind.Reduce && e.hop === 1);
        const hop0Arrivals = events.flatMap((e, i) => (e.what === 'arrived' && e.peer === peer && e.kind === MessageKind.Reduce && e.hop === 0 ? [i] : []));
        const lastHop0Arrived = hop0Arrivals.at(-1) ?? -1;
        assert.ok(firstHop1Sent >= 0 && firstHop1Sent < lastHop0Arrived, `${peer}: hop 1 sent at event ${firstHop1Sent}, hop 0 complete at ${lastHop0Arrived}`);
      }
    } finally {
      group.close();
    }
  });
});
