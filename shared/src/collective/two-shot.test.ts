/**
 * The two-shot all-reduce: the owner's rank-order bits on every peer whatever the chunk size and
 * arrival order, the ring's bytes, refused input named, a silent peer blamed, nothing left pending.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../rng.ts';
import { createLocalGroup } from '../testing/local-group.ts';
import { decodeFrame, MessageKind } from '../wire/frame.ts';
import { f16BitsToF32, f32ToF16Bits } from './half.ts';

const vector = (length: number, seed: number): Float32Array => new Rng(seed).fillGaussian(new Float32Array(length)) as Float32Array;
const bitsOf = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

/** The owner's order, written out: every element is 0 + x_0 + x_1 + ... + x_{N-1}, f32 after every addition. */
function rankOrderSum(xs: Float32Array[]): Float32Array {
  const out = new Float32Array(xs[0]!.length);
  for (const x of xs) for (let i = 0; i < out.length; i++) out[i] = out[i]! + x[i]!;
  return out;
}

describe('two-shot all-reduce', () => {
  for (const n of [3, 4, 5, 8]) {
    it(`N=${n}: rank-order bits on every peer for every chunk size (odd lengths, empty segments), nothing pending`, async () => {
      for (const length of [1, n - 1, 2 * n + 1, 1009]) {
        const xs = Array.from({ length: n }, (_, r) => vector(length, 1000 * n + 10 * r + length));
        const expected = bitsOf(rankOrderSum(xs));
        for (const chunkValues of length < 100 ? [1, 3, 1 << 16] : [3, 64, 1 << 16]) {
          // Random delays reorder the arrivals: the bits must not depend on them.
          const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues, allReduce: 'two-shot', latencyMs: 1, jitterMs: 3 });
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

  it('owners in proportion to shares: the same rank-order bits, and a share of 0 sums and sends back nothing', async () => {
    const n = 4;
    const length = 1009;
    const xs = Array.from({ length: n }, (_, r) => vector(length, 77 + r));
    const expected = bitsOf(rankOrderSum(xs));
    for (const shares of [[0, 21, 7, 12], [1, 0, 0, 0], [0, 0, 0, 0], [3, 1, 1, 1]]) {
      const group = createLocalGroup(n, { directBelowBytes: 0, chunkValues: 64, allReduce: 'two-shot', latencyMs: 1, jitterMs: 3, shares });
      const gathersFrom = new Set<string>();
      group.network.faultHook = (from, _to, bytes) => {
        if (decodeFrame(bytes).kind === MessageKind.Gather) gathersFrom.add(from);
        return undefined;
      };
      try {
        const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 9));
        results.forEach((result, rank) => assert.ok(bitsOf(result).equals(expected), `shares [${shares.join(', ')}]: peer ${rank}`));
        if (shares.some((s) => s > 0)) group.ids.forEach((id, rank) => assert.equal(gathersFrom.has(id), shares[rank]! > 0, `shares [${shares.join(', ')}]: ${id}`));
        assert.deepEqual(group.messengers.map((m) => m.pendingReceives), new Array<number>(n).fill(0));
      } finally {
        group.close();
      }
    }
  });

  it('sends the ring\'s 2(N-1)/N of the vector per peer, in two hops: Reduce frames to owners, Gather frames from them', async () => {
    const n = 4;
    const length = 100_000;
    const group = createLocalGroup(n, { allReduce: 'two-shot' });
    const links = new Set<string>();
    group.network.faultHook = (from, to, bytes) => {
      links.add(`${MessageKind[decodeFrame(bytes).kind]} ${from}->${to}`);
      return undefined;
    };
    try {
      await group.run(1, (c, rank) => c.allReduceSum(vector(length, rank), 0));
      const payloadBytes = (2 * (n - 1) / n) * length * 4;
      for (const m of group.messengers) {
        const headers = m.stats.bytesSent - payloadBytes;
        assert.ok(headers >= 0 && headers < 0.01 * payloadBytes, `sent ${m.stats.bytesSent}, payload ${payloadBytes}`);
      }
      // Every peer sent both kinds straight to every other: 2 x N x (N-1) links used.
      assert.equal(links.size, 2 * n * (n - 1));
    } finally {
      group.close();
    }
  });

  it('with f16 on the wire every peer holds the owner\'s sum rounded to half, the same bits', async () => {
    const n = 4;
    const xs = Array.from({ length: n }, (_, r) => vector(999, r + 50));
    const group = createLocalGroup(n, { directBelowBytes: 0, allReduce: 'two-shot', chunkValues: 100 });
    try {
      const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0, { wire: 'f16' }));
      // Each contribution crosses the wire as half floats (the owner's own does not), then the sum is rounded.
      const round = (x: Float32Array): Float32Array => x.map((v) => f16BitsToF32(f32ToF16Bits(v)));
      for (const result of results) assert.ok(bitsOf(result).equals(bitsOf(results[0]!)), 'peers disagree');
      const exact = rankOrderSum(xs.map(round));
      for (let i = 0; i < exact.length; i++) assert.ok(Math.abs(results[0]![i]! - exact[i]!) <= 2e-3 * (1 + Math.abs(exact[i]!)), `index ${i}`);
    } finally {
      group.close();
    }
  });

  it('refuses a NaN contribution with PeerInputError naming its sender', async () => {
    const n = 3;
    const group = createLocalGroup(n, { allReduce: 'two-shot' });
    try {
      const outcomes = await group.run(1, (c, rank) => {
        const x = vector(300, rank);
        if (rank === 2) x[10] = Number.NaN; // in segment 0: peer 0 receives it
        return c.allReduceSum(x, 0).then(() => 'ok', (e: Error) => `${e.name} ${(e as { suspect?: string }).suspect ?? ''}`);
      }, { timeoutMs: 2_000 });
      assert.equal(outcomes[0], `PeerInputError ${group.ids[2]}`);
    } finally {
      group.close();
    }
  });

  it('a silent peer is the one every other names when the deadline passes, and nothing is left pending', async () => {
    const n = 4;
    const group = createLocalGroup(n, { allReduce: 'two-shot', latencyMs: 1 });
    const silent = group.ids[3]!;
    group.network.faultHook = (from) => (from === silent ? 'drop' : undefined);
    try {
      const outcomes = await group.run(1, (c, rank) => c.allReduceSum(vector(4000, rank), 0).then(() => 'ok', (e: Error) => `${e.name} ${(e as { suspect?: string }).suspect ?? ''}`), { timeoutMs: 500 });
      for (const outcome of outcomes.slice(0, 3)) assert.equal(outcome, `TimeoutError ${silent}`);
      assert.deepEqual(group.messengers.map((m) => m.pendingReceives), [0, 0, 0, 0]);
    } finally {
      group.close();
    }
  });
});
