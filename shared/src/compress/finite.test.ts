import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { gaussianArray, simulatePeers } from '../testing/simulated-collective.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { createAggregator, type AggregatorConfig } from './index.ts';
import { createRandomK } from './randomk.ts';
import type { GradientAggregator, LayerShape } from './types.ts';

await tf.setBackend('cpu');

const D = 100;
const LAYERS: LayerShape[] = [{ name: 'v', shape: [D] }];
const SEED = 3;
const RATIO = 0.05;

/** The coordinates Random-K sends at `step` (shared by every peer). */
function sent(step: number): Set<number> {
  const codec = createRandomK({ ratio: RATIO, scaled: false });
  const layer = LAYERS[0]!;
  const ctx = { seed: SEED, step, layerIndex: 0, peer: 0 };
  const ones = codec.decompress(codec.compress(new Float32Array(D).fill(1), layer, ctx), layer, ctx);
  return new Set(Array.from(ones.keys()).filter((j) => ones[j] !== 0));
}

/** Runs `steps` steps of a pair; every peer must resolve with the same finite update. */
async function runPair(pair: GradientAggregator[], steps: number, grads: (rank: number, step: number) => Float32Array[]): Promise<Float32Array[][]> {
  const updates: Float32Array[][] = [];
  for (let step = 0; step < steps; step++) {
    const [a, b] = await simulatePeers(2, (c, rank) => pair[rank]!.aggregate(grads(rank, step), c), { step });
    assert.deepEqual(a, b, `step ${step}`);
    assert.ok(a!.every((u) => u.every(Number.isFinite)), `step ${step} is not finite`);
    updates.push(a!);
  }
  return updates;
}

test('requireFinite throws NonFiniteError on NaN or Infinity; repairLocal replaces only those entries', () => {
  assert.doesNotThrow(() => requireFinite('x', [Float32Array.of(1, -3e38), new Float32Array(0)]));
  for (const bad of [NaN, Infinity, -Infinity]) assert.throws(() => requireFinite('x', [Float32Array.of(0), Float32Array.of(1, bad)]), { name: 'NonFiniteError' });
  assert.deepEqual(repairLocal(Float32Array.of(1, NaN, -Infinity, 2)), Float32Array.of(1, 0, 0, 2));
  assert.deepEqual(repairLocal(Float32Array.of(Infinity, 5), Float32Array.of(7, 8)), Float32Array.of(7, 5));
});

test('EF14 (Random-K): a residual that overflows on one member alone is dropped; the pair stays finite and in lockstep', async () => {
  // j is sent neither at step 0 nor at step 1, and first sent again at step `back`.
  const j = Array.from({ length: D }, (_, i) => i).find((i) => !sent(0).has(i) && !sent(1).has(i))!;
  let back = 2;
  while (!sent(back).has(j)) back++;
  const config: AggregatorConfig = { compressor: 'randomk', ef: 'ef14', rank: 1, ratio: RATIO, levels: 1, period: 1, seed: SEED };
  const pair = [createAggregator(config, LAYERS), createAggregator(config, LAYERS)];
  // Peer 0's j is 3e38 at steps 0 and 1: its residual there reaches 6e38 (Infinity in f32) unsent.
  const grads = (rank: number, step: number): Float32Array[] => {
    const g = gaussianArray(D, 1, 'ef14-overflow', rank, step);
    g[j] = rank === 0 && step < 2 ? 3e38 : 0;
    return [g];
  };
  const updates = await runPair(pair, back + 1, grads);
  // Dropped, not kept: when j is sent again, nothing of the overflow is left in it.
  assert.equal(updates[back]![0]![j], 0);
});

test('DIANA (scaled Random-K): a shift that overflows on one member alone takes the shared value; the pair stays finite', async () => {
  // j is sent at step 0; d/k = 20 turns a member's own 3e37 into 6e38 (Infinity in f32), while the
  // two members' messages cancel in the sum.
  const j = [...sent(0)][0]!;
  let back = 1;
  while (!sent(back).has(j)) back++;
  const config: AggregatorConfig = { compressor: 'randomk', ef: 'diana', rank: 1, ratio: RATIO, levels: 1, period: 1, seed: SEED };
  const pair = [createAggregator(config, LAYERS), createAggregator(config, LAYERS)];
  const grads = (rank: number, step: number): Float32Array[] => {
    const g = gaussianArray(D, 1, 'diana-overflow', rank, step);
    g[j] = step === 0 ? (rank === 0 ? 3e37 : -3e37) : 1;
    return [g];
  };
  const updates = await runPair(pair, back + 1, grads);
  assert.equal(updates[0]![0]![j], 0);
  // h_i = h = 0 at j on both (the repair), so the mean shift still is the mean of the h_i there:
  // at step `back` the update at j is exactly d/k times the mean of the two 1s.
  assert.equal(updates[back]![0]![j], 20);
});
