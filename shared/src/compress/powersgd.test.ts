import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { Rng } from '../rng.ts';
import { multiplyTransposed, orthonormalizeColumns, svd } from './linalg.ts';
import { PowerSgdAggregator, powerSgdView } from './powersgd.ts';
import { gaussianArray, simulatePeers } from '../testing/simulated-collective.ts';
import type { LayerShape } from './types.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

const M = 64;
const N = 48;
const LAYER: LayerShape = { name: 'w', shape: [M, N] };

/** A fixed 64 x 48 matrix U diag(sigma) V^T with sigma_j = 0.8^j. */
function decayingMatrix(): Float32Array {
  const p = Math.min(M, N);
  const u = orthonormalizeColumns(new Rng(1).fillGaussian(new Float64Array(M * p)) as Float64Array, M, p);
  const v = orthonormalizeColumns(new Rng(2).fillGaussian(new Float64Array(N * p)) as Float64Array, N, p);
  const us = Float64Array.from(u, (x, i) => x * 0.8 ** (i % p));
  return multiplyTransposed(us, v, M, p, N);
}

const squaredDistance = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, j) => s + (v - b[j]!) ** 2, 0);
const squaredNorm = (a: Float32Array): number => a.reduce((s, v) => s + v * v, 0);

/** Optimal rank-r error |M - M_r|^2 from the Jacobi SVD. */
function optimalError(m: Float32Array, r: number): number {
  const { s } = svd(m, M, N);
  return s.slice(r).reduce((acc, v) => acc + v * v, 0);
}

/** Ratios |M - ghat_t|^2 / optimal over `steps` steps, two peers whose gradients average to M, no EF. */
async function ratiosOverSteps(rank: number, oneRound: boolean, steps: number): Promise<number[]> {
  const target = decayingMatrix();
  const noise = gaussianArray(M * N, 0.3, 'powersgd-split');
  const grads = [Float32Array.from(target, (v, j) => v + noise[j]!), Float32Array.from(target, (v, j) => v - noise[j]!)];
  // The peers' own gradients differ; their mean is (up to f32 rounding) the target.
  const mean = Float32Array.from(grads[0]!, (v, j) => (v + grads[1]![j]!) / 2);
  const optimal = optimalError(mean, rank);
  const aggs = [0, 1].map(() => new PowerSgdAggregator([LAYER], { rank, seed: 5, oneRound, errorFeedback: false }));
  const ratios: number[] = [];
  for (let step = 0; step < steps; step++) {
    const [update] = await simulatePeers(2, (c, r) => aggs[r]!.aggregate([grads[r]!], c), { step });
    ratios.push(squaredDistance(mean, update![0]!) / optimal);
  }
  return ratios;
}

test('warm-started PowerSGD reaches 1.1x the optimal rank-r error within a few steps', async () => {
  for (const rank of [2, 4]) {
    const ratios = await ratiosOverSteps(rank, false, 6);
    assert.ok(ratios.every((r) => r >= 1 - 1e-4), `never better than optimal: ${ratios}`);
    assert.ok(ratios[0]! > 1.1, `the random start is not already optimal: ${ratios[0]}`);
    assert.ok(ratios[5]! <= 1.1, `rank ${rank}: ${ratios.map((r) => r.toFixed(3)).join(' ')}`);
  }
});

test('one-round PowerSGD (alternating P and Q) also converges to the optimal subspace', async () => {
  const ratios = await ratiosOverSteps(2, true, 12);
  assert.ok(ratios[11]! <= 1.1, ratios.map((r) => r.toFixed(3)).join(' '));
});

test('error feedback: every step is a projection, and the mean update tracks a constant gradient', async () => {
  const g = decayingMatrix();
  for (const errorFeedback of [true, false]) {
    const agg = new PowerSgdAggregator([LAYER], { rank: 2, seed: 3, errorFeedback });
    const sum = new Float64Array(M * N);
    let e = new Float32Array(M * N);
    const steps = 80;
    for (let step = 0; step < steps; step++) {
      const [update] = await simulatePeers(1, (c) => agg.aggregate([g], c), { step });
      const u = update![0]!;
      const m = errorFeedback ? Float32Array.from(g, (v, j) => v + e[j]!) : g;
      // One peer: ghat = Phat Phat^T M, an orthogonal projection of M.
      assert.ok(squaredDistance(m, u) <= squaredNorm(m) * (1 + 1e-5), `step ${step}`);
      e = Float32Array.from(m, (v, j) => v - u[j]!);
      u.forEach((v, j) => (sum[j]! += v));
    }
    const drift = Math.sqrt(g.reduce((s, v, j) => s + (sum[j]! / steps - v) ** 2, 0) / squaredNorm(g));
    if (errorFeedback) assert.ok(drift < 0.1, `with EF the mean update is within 10% of g (the residual e_T / T shrinks like 1/T): ${drift}`);
    else assert.ok(drift > 0.3, `without EF a rank-2 update misses the tail: ${drift}`);
  }
});

test('powerSgdView compresses only when r(m+n) < mn/2', () => {
  assert.deepEqual(powerSgdView({ name: 'conv', shape: [3, 3, 1, 8] }, 2), { m: 9, n: 8 }); // 34 < 36
  assert.equal(powerSgdView({ name: 'conv', shape: [3, 3, 1, 8] }, 3), null); // 51 >= 36
  assert.equal(powerSgdView({ name: 'b', shape: [100] }, 1), null);
  assert.equal(powerSgdView({ name: 'row', shape: [1, 100] }, 1), null);
  assert.equal(powerSgdView({ name: 'sq', shape: [8, 8] }, 2), null); // 32 >= 32
});

test('a zero gradient keeps Q full rank (no NaN, the next step still works)', async () => {
  const agg = new PowerSgdAggregator([LAYER], { rank: 2, seed: 1 });
  const [zero] = await simulatePeers(1, (c) => agg.aggregate([new Float32Array(M * N)], c), { step: 0 });
  assert.ok(zero![0]!.every((v) => v === 0));
  const target = decayingMatrix();
  const [next] = await simulatePeers(1, (c) => agg.aggregate([target], c), { step: 1 });
  assert.ok(next![0]!.every(Number.isFinite));
  assert.ok(squaredDistance(target, next![0]!) < squaredNorm(target));
});
