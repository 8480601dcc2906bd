import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../rng.ts';
import { createLocalGroup } from '../testing/local-group.ts';

function inputs(n: number, length: number, seed: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => new Rng(seed * 100 + i).fillGaussian(new Float32Array(length)) as Float32Array);
}

/** The exact sum (f64) of the peers' vectors. */
function exactSum(vectors: Float32Array[]): Float64Array {
  const out = new Float64Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) out[i] = out[i]! + v[i]!;
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('ring all-reduce over the in-memory transport', () => {
  for (let n = 1; n <= 8; n++) {
    for (const length of [0, 1, n + 1, 1000 * n + 3, 70_001]) {
      it(`N=${n}, length ${length}: exact sum, identical bits on every peer`, async () => {
        const group = createLocalGroup(n, { directBelowBytes: 0 }); // force the ring even for tiny vectors
        try {
          const xs = inputs(n, length, n * 7 + length);
          const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
          const exact = exactSum(xs);
          for (const result of results) {
            assert.equal(result.length, length);
            assert.ok(sameBits(result, results[0]!), 'peers disagree on the bits');
          }
          for (let i = 0; i < length; i++) {
            assert.ok(Math.abs(results[0]![i]! - exact[i]!) <= 1e-5 * n * (1 + Math.abs(exact[i]!)), `index ${i}`);
          }
          // The inputs are left untouched.
          assert.ok(sameBits(xs[0]!, inputs(n, length, n * 7 + length)[0]!));
        } finally {
          group.close();
        }
      });
    }
  }

  it('sends 2(N-1)/N of the vector per peer on the ring', async () => {
    const n = 4;
    const length = 100_000;
    const group = createLocalGroup(n);
    try {
      const xs = inputs(n, length, 3);
      await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0));
      const payloadBytes = (2 * (n - 1) / n) * length * 4;
      for (const m of group.messengers) {
        const headers = m.stats.bytesSent - payloadBytes;
        assert.ok(headers >= 0 && headers < 0.01 * payloadBytes, `sent ${m.stats.bytesSent}, payload ${payloadBytes}`);
      }
    } finally {
      group.close();
    }
  });

  it('direct exchange for small vectors agrees bit for bit and is exact to f32', async () => {
    const n = 5;
    const group = createLocalGroup(n);
    try {
      const xs = inputs(n, 37, 9);
      const results = await group.run(2, (c, rank) => c.allReduceSum(xs[rank]!, 0));
      const exact = exactSum(xs);
      for (const r of results) assert.ok(sameBits(r, results[0]!));
      for (let i = 0; i < 37; i++) assert.ok(Math.abs(results[0]![i]! - exact[i]!) < 1e-5);
    } finally {
      group.close();
    }
  });

  it('fp16 on the wire: identical bits everywhere, within half precision of the sum', async () => {
    for (const directBelowBytes of [0, 1 << 30]) {
      const n = 3;
      const group = createLocalGroup(n, { directBelowBytes });
      try {
        const xs = inputs(n, 5000, 4);
        const results = await group.run(1, (c, rank) => c.allReduceSum(xs[rank]!, 0, { wire: 'f16' }));
        const exact = exactSum(xs);
        for (const r of results) assert.ok(sameBits(r, results[0]!));
        for (let i = 0; i < 5000; i++) assert.ok(Math.abs(results[0]![i]! - exact[i]!) < 4e-3 * (1 + Math.abs(exact[i]!)));
      } finally {
        group.close();
      }
    }
  });

  it('all-gather returns every blob by rank', async () => {
    const n = 4;
    const group = createLocalGroup(n);
    try {
      const blobs = Array.from({ length: n }, (_, i) => new Uint8Array(i * 100_000).fill(i + 1));
      const results = await group.run(1, (c, rank) => c.allGather(blobs[rank]!, 0));
      for (const result of results) {
        assert.deepEqual(result.map((b) => b.length), blobs.map((b) => b.length));
        result.forEach((b, i) => assert.ok(b.every((x) => x === i + 1)));
      }
    } finally {
      group.close();
    }
  });
});
