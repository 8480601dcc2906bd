import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { createAggregator, type AggregatorConfig } from '../../compress/index.ts';
import type { GradientAggregator, LayerShape } from '../../compress/types.ts';
import { gaussianArray, simulatePeers } from '../../testing/simulated-collective.ts';
import { MAX_COUNT, weightedMean } from './weighted-mean.ts';

await tf.setBackend('cpu');

const LAYERS: LayerShape[] = [
  { name: 'dense', shape: [24, 16] },
  { name: 'bias', shape: [16] },
  { name: 'one', shape: [1] },
];
const size = (layer: LayerShape): number => layer.shape.reduce((a, b) => a * b, 1);
const BASE: AggregatorConfig = { compressor: 'none', ef: 'none', rank: 2, ratio: 0.25, levels: 8, period: 4, seed: 7 };

/** Member `rank`'s gradient sum of `round`: a sum of `count` samples, so it grows with the count. */
const sumsOf = (rank: number, round: number, count: number): Float32Array[] =>
  LAYERS.map((l, i) => gaussianArray(size(l), Math.sqrt(count), 'sums', rank, round, i));

/** sum_i S_i / sum_i n_i, in f64. */
function exactWeightedMean(sums: Float32Array[][], counts: number[]): Float64Array[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return LAYERS.map((l, layer) => {
    const out = new Float64Array(size(l));
    for (const s of sums) for (let j = 0; j < out.length; j++) out[j]! += s[layer]![j]! / total;
    return out;
  });
}

function assertClose(actual: Float32Array[], expected: ArrayLike<number>[], tolerance: number, what: string): void {
  actual.forEach((a, layer) => {
    for (let j = 0; j < a.length; j++) {
      const e = expected[layer]![j]!;
      assert.ok(Math.abs(a[j]! - e) <= tolerance * (1 + Math.abs(e)), `${what}: layer ${layer} entry ${j}: ${a[j]} vs ${e}`);
    }
  });
}

/** Runs `rounds` rounds of the weighted mean among peers whose counts are `counts[round][rank]`. */
async function run(config: AggregatorConfig, counts: number[][]): Promise<{ updates: Float32Array[][][]; counts: number[][][]; aggregators: GradientAggregator[] }> {
  const n = counts[0]!.length;
  const aggregators = Array.from({ length: n }, () => createAggregator(config, LAYERS));
  const updates: Float32Array[][][] = [];
  const seen: number[][][] = [];
  for (let round = 0; round < counts.length; round++) {
    const results = await simulatePeers(n, (c, rank) => weightedMean(aggregators[rank]!, sumsOf(rank, round, counts[round]![rank]!), counts[round]![rank]!, c), { step: round });
    updates.push(results.map((r) => r.update));
    seen.push(results.map((r) => r.counts));
  }
  return { updates, counts: seen, aggregators };
}

const UNEQUAL = [[64, 640, 192], [128, 64, 1280], [64, 64, 64]];

describe('weighted mean of unequal contributions', () => {
  it('fp32 (linear, lossless): the exact sample-weighted mean on every peer, and every peer learns every count', async () => {
    const { updates, counts } = await run(BASE, UNEQUAL);
    UNEQUAL.forEach((roundCounts, round) => {
      const exact = exactWeightedMean(roundCounts.map((n, rank) => sumsOf(rank, round, n)), roundCounts);
      for (const update of updates[round]!) {
        assert.deepEqual(update, updates[round]![0], 'identical bits on every peer');
        assertClose(update, exact, 1e-5, `round ${round}`);
      }
      for (const c of counts[round]!) assert.deepEqual(c, roundCounts);
    });
  });

  it('top-k at ratio 1 (gather, lossless): the exact sample-weighted mean, counts prefixed to the blobs', async () => {
    const { updates, counts } = await run({ ...BASE, compressor: 'topk', ratio: 1, ef: 'ef14' }, UNEQUAL);
    UNEQUAL.forEach((roundCounts, round) => {
      const exact = exactWeightedMean(roundCounts.map((n, rank) => sumsOf(rank, round, n)), roundCounts);
      for (const update of updates[round]!) {
        assert.deepEqual(update, updates[round]![0]);
        assertClose(update, exact, 1e-5, `round ${round}`);
      }
      for (const c of counts[round]!) assert.deepEqual(c, roundCounts);
    });
  });

  it('a lossy linear codec (Gaussian sketch): D(C(exact weighted mean)), as linearity promises', async () => {
    const config: AggregatorConfig = { ...BASE, compressor: 'sketch-gaussian', rank: 6 };
    const { updates } = await run(config, [UNEQUAL[0]!]);
    // Every peer hands the exact weighted mean to a plain aggregate: its mean is D(C(that)).
    const exact = exactWeightedMean(UNEQUAL[0]!.map((n, rank) => sumsOf(rank, 0, n)), UNEQUAL[0]!);
    const asF32 = exact.map((l) => Float32Array.from(l));
    const fresh = UNEQUAL[0]!.map(() => createAggregator(config, LAYERS));
    const reference = await simulatePeers(3, (c, rank) => fresh[rank]!.aggregate(asF32, c), { step: 0 });
    assertClose(updates[0]![1]!, reference[0]!, 1e-4, 'sketch');
    // ...and it is not the plain mean of the members' own means: the counts mattered.
    const unweighted = exactWeightedMean(UNEQUAL[0]!.map((n, rank) => sumsOf(rank, 0, n).map((l) => l.map((v) => (v * 1) / n))), [1, 1, 1]);
    assert.ok(Math.abs(updates[0]![0]![0]![0]! - unweighted[0]![0]!) > 1e-6);
  });

  it('a lossy gather codec (top-k 25 % + EF14): N / sum n_i times the mean of what the plain exchange decompresses', async () => {
    const config: AggregatorConfig = { ...BASE, compressor: 'topk', ratio: 0.25, ef: 'ef14' };
    const { updates, aggregators } = await run(config, UNEQUAL);
    // The same members through aggregate alone (same EF memories, same inputs): the mean of D(C(S_i + e_i)).
    const plain = UNEQUAL[0]!.map(() => createAggregator(config, LAYERS));
    for (let round = 0; round < UNEQUAL.length; round++) {
      const counts = UNEQUAL[round]!;
      const means = await simulatePeers(3, (c, rank) => plain[rank]!.aggregate(sumsOf(rank, round, counts[rank]!), c), { step: round });
      const scale = 3 / counts.reduce((a, b) => a + b, 0);
      assertClose(updates[round]![2]!, means[0]!.map((l) => Float64Array.from(l, (v) => v * scale)), 1e-6, `round ${round}`);
    }
    for (const a of [...aggregators, ...plain]) a.dispose();
  });

  it('PowerSGD with unequal counts per member and per round: identical updates and shared state on every peer', async () => {
    const { updates, counts, aggregators } = await run({ ...BASE, compressor: 'powersgd', rank: 2 }, UNEQUAL);
    for (let round = 0; round < UNEQUAL.length; round++) {
      for (const u of updates[round]!) assert.deepEqual(u, updates[round]![0]);
      for (const c of counts[round]!) assert.deepEqual(c, UNEQUAL[round]);
    }
    const states = aggregators.map((a) => a.exportSharedState());
    for (const s of states) assert.deepEqual(s, states[0]);
    for (const a of aggregators) a.dispose();
  });

  it('counts above f16 range survive the fp16 wire exactly', async () => {
    const big = [[70_000, 3, 1_000_000]];
    const { counts, updates } = await run({ ...BASE, compressor: 'fp16', ef: 'ef14' }, big);
    for (const c of counts[0]!) assert.deepEqual(c, big[0]);
    const exact = exactWeightedMean(big[0]!.map((n, rank) => sumsOf(rank, 0, n)), big[0]!);
    assertClose(updates[0]![0]!, exact, 2e-3, 'fp16');
  });
});

describe('the sit-out flag beside each count', () => {
  for (const compressor of ['none', 'topk'] as const) {
    it(`${compressor === 'none' ? 'all-reduce' : 'all-gather'}: every member learns every member's flag, and the counts stay exact`, async () => {
      const config: AggregatorConfig = { ...BASE, compressor, ratio: 1 };
      const aggregators = [0, 1, 2].map(() => createAggregator(config, LAYERS));
      const counts = [64, MAX_COUNT - 1, 0];
      const flags = [false, true, true];
      const results = await simulatePeers(3, (c, rank) => weightedMean(aggregators[rank]!, sumsOf(rank, 0, counts[rank]!), counts[rank]!, c, flags[rank]), { step: 0 });
      for (const r of results) {
        assert.deepEqual(r.counts, counts);
        assert.deepEqual(r.sitsOutNext, flags);
      }
      for (const a of aggregators) a.dispose();
    });
  }
});
