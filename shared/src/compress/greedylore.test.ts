import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { Rng } from '../rng.ts';
import { GreedyLoreAggregator, greedyLoreView, leadingDirections, probeLayer, topEnergyIndices } from './greedylore.ts';
import { basisColumns, reflectorsOf } from './householder.ts';
import { multiply, multiplyTransposed, orthonormalizeColumns, svd, transpose } from './linalg.ts';
import { gaussianArray, simulatePeers } from '../testing/simulated-collective.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

function squaredNorm(a: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * a[i]!;
  return sum;
}

/** |X - P P^T X|^2 for P = columns S of U (m x m). */
function projectionError(x: Float32Array, u: ArrayLike<number>, m: number, n: number, selected: number[]): number {
  const r = selected.length;
  const p = new Float64Array(m * r);
  for (let i = 0; i < m; i++) selected.forEach((col, k) => (p[i * r + k] = u[i * m + col]!));
  const coeffs = multiply(transpose(p, m, r), x, r, m, n);
  const kept = multiply(p, coeffs, m, r, n);
  return x.reduce((s, v, j) => s + (v - kept[j]!) ** 2, 0);
}

test('the greedy top-r choice on exact energies contracts by r/m on every input', () => {
  const [m, n, r] = [10, 25, 3];
  for (let trial = 0; trial < 200; trial++) {
    const x = gaussianArray(m * n, 1, 'greedy', trial);
    const u = orthonormalizeColumns(new Rng(trial).fillGaussian(new Float64Array(m * m)) as Float64Array, m, m);
    const w = multiply(transpose(u, m, m), x, m, m, n);
    const energy = new Float64Array(m);
    for (let j = 0; j < m; j++) for (let k = 0; k < n; k++) energy[j]! += w[j * n + k]! ** 2;
    const selected = topEnergyIndices(energy, r);
    assert.ok(projectionError(x, u, m, n, selected) <= (1 - r / m) * squaredNorm(x) * (1 + 1e-5), `trial ${trial}`);
  }
  assert.deepEqual(topEnergyIndices(Float64Array.from([1, 3, 3, 2, 3]), 2), [1, 2]);
});

/**
 * One peer, so R = R_i and ghat = P P^T M. Tracks e externally and returns the per-step ratios
 * |M_t - ghat_t|^2 / |M_t|^2 of the probe-chosen projection.
 */
async function probeRatios(shape: [number, number], rank: number, steps: number): Promise<number[]> {
  const [rows, cols] = shape;
  const agg = new GreedyLoreAggregator([{ name: 'w', shape }], { rank, period: 1000, seed: 11 });
  // A gradient with a persistent low-rank part plus fresh noise, as in training.
  const base = multiply(gaussianArray(rows * 3, 1, 'left'), gaussianArray(3 * cols, 1, 'right'), rows, 3, cols);
  let e = new Float32Array(rows * cols);
  const ratios: number[] = [];
  for (let step = 0; step < steps; step++) {
    const noise = gaussianArray(rows * cols, 1, 'noise', step);
    const g = Float32Array.from(base, (v, j) => v + noise[j]!);
    const [update] = await simulatePeers(1, (c) => agg.aggregate([g], c), { step });
    const u = update![0]!;
    if (step === 0) {
      assert.deepEqual(u, g, 'step 0 is a dense refresh');
      continue;
    }
    const m = Float32Array.from(g, (v, j) => v + e[j]!);
    let err = 0;
    for (let j = 0; j < m.length; j++) err += (m[j]! - u[j]!) ** 2;
    ratios.push(err / squaredNorm(m));
    e = Float32Array.from(m, (v, j) => v - u[j]!);
  }
  return ratios;
}

test('with the shared Gaussian probe, GreedyLore contracts by r/m on average and never expands', async () => {
  for (const shape of [[16, 40], [40, 16]] as Array<[number, number]>) {
    const rank = 2;
    const ratios = await probeRatios(shape, rank, 120);
    const bound = 1 - rank / Math.min(...shape);
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    // The probe's a_j^2 is an unbiased estimate of direction j's energy, not a bound, so the
    // per-step r/m bound holds for the exact choice (tested above) and on average here.
    assert.ok(ratios.every((r) => r <= 1 + 1e-5), `a projection never expands (${shape})`);
    assert.ok(mean <= bound, `${shape}: mean ratio ${mean} > ${bound}`);
  }
});

test('after a refresh, a gradient inside the top-r subspace passes exactly (both orientations)', async () => {
  for (const shape of [[16, 40], [40, 16]] as Array<[number, number]>) {
    const [rows, cols] = shape;
    const g = multiply(gaussianArray(rows * 2, 1, 'l2', rows), gaussianArray(2 * cols, 1, 'r2', rows), rows, 2, cols);
    const agg = new GreedyLoreAggregator([{ name: 'w', shape }], { rank: 2, period: 50, seed: 1 });
    await simulatePeers(1, (c) => agg.aggregate([g], c), { step: 0 });
    const [update] = await simulatePeers(1, (c) => agg.aggregate([g], c), { step: 1 });
    const err = g.reduce((s, v, j) => s + (v - update![0]![j]!) ** 2, 0);
    assert.ok(err <= 1e-8 * squaredNorm(g), `${shape}: ${err}`);
  }
});

test('the refresh basis is the SVD of the average over peers', async () => {
  const shape: [number, number] = [12, 20];
  assert.equal(leadingDirections(12, 2), 12, 'every direction is a leading one here, so the state is the whole U');
  const grads = [0, 1, 2].map((r) => gaussianArray(240, 1, 'refresh', r));
  const aggs = grads.map(() => new GreedyLoreAggregator([{ name: 'w', shape }], { rank: 2, period: 5, seed: 1 }));
  const [update] = await simulatePeers(3, (c, r) => aggs[r]!.aggregate([grads[r]!], c), { step: 0 });
  const mean = update![0]!;
  // Summed in f32 in rank order, like the collective.
  const sum = Float32Array.from(Float32Array.from(grads[0]!, (v, j) => v + grads[1]![j]!), (v, j) => v + grads[2]![j]!);
  assert.deepEqual(mean, Float32Array.from(sum, (v) => v / 3));
  const state = aggs[0]!.exportSharedState();
  const u = new Float32Array(state.buffer.slice(8)); // header is 8 bytes; the platform is little-endian
  const { u: svdU } = svd(mean, 12, 20);
  // Same subspaces column by column (up to sign).
  for (let j = 0; j < 12; j++) {
    let dot = 0;
    for (let i = 0; i < 12; i++) dot += u[i * 12 + j]! * svdU[i * 12 + j]!;
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-4, `column ${j}: ${dot}`);
  }
  const rebuilt = multiplyTransposed(u, u, 12, 12, 12);
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(rebuilt[i * 13]! - 1) < 1e-5);
});

test('greedyLoreView transposes tall layers and skips those that would not shrink 2x', () => {
  assert.deepEqual(greedyLoreView({ name: 'a', shape: [64, 48] }, 4), { m: 48, n: 64, transposed: true });
  assert.deepEqual(greedyLoreView({ name: 'b', shape: [16, 40] }, 2), { m: 16, n: 40, transposed: false });
  assert.deepEqual(greedyLoreView({ name: 'c', shape: [3, 3, 1, 8] }, 2), { m: 8, n: 9, transposed: true }); // 8 + 2*9 < 36
  assert.deepEqual(greedyLoreView({ name: 'd', shape: [3, 3, 1, 8] }, 3), { m: 8, n: 9, transposed: true }); // 8 + 3*9 < 36
  assert.equal(greedyLoreView({ name: 'd', shape: [3, 3, 1, 8] }, 4), null); // 8 + 4*9 >= 36
  assert.equal(greedyLoreView({ name: 'e', shape: [48] }, 1), null);
});

test('the low-rank probe estimates each direction\'s energy without bias, and leaves no tensor', () => {
  const [m, n, k] = [10, 30, 6];
  const x = gaussianArray(m * n, 1, 'probe-x');
  const q = orthonormalizeColumns(new Rng(5).fillGaussian(new Float64Array(m * k)) as Float64Array, m, k);
  const basis = reflectorsOf(q, m, k);
  const u = basisColumns(basis, Array.from({ length: m }, (_, j) => j));
  const exact = multiply(transpose(u, m, m), x, m, m, n);
  const tensors = tf.memory().numTensors;
  const trials = 4000;
  const mean = new Float64Array(m);
  for (let t = 0; t < trials; t++) {
    const a = probeLayer(x, basis, Rng.derive(1, t, 'probe'), m, n);
    for (let j = 0; j < m; j++) mean[j]! += a[j]! ** 2 / trials;
  }
  assert.equal(tf.memory().numTensors, tensors);
  for (let j = 0; j < m; j++) {
    let energy = 0;
    for (let c = 0; c < n; c++) energy += exact[j * n + c]! ** 2;
    // a_j^2 has variance (2 + 6/k) energy^2 with k = 4 probe columns: 4000 trials leave ~4% noise.
    assert.ok(Math.abs(mean[j]! - energy) <= 0.12 * energy, `direction ${j}: ${mean[j]} vs ${energy}`);
  }
  const same = probeLayer(x, basis, Rng.derive(1, 0, 'probe'), m, n);
  assert.deepEqual(same, probeLayer(x, basis, Rng.derive(1, 0, 'probe'), m, n), 'same inputs, same bits');
});

test('refreshes find the leading directions of a large layer, cold and then warm, with zero rows', async () => {
  const [rows, cols, rank] = [300, 400, 4];
  // 6 decaying rank-1 terms plus noise; the first 20 input rows are always zero (as MNIST's border).
  const left = gaussianArray(rows * 6, 1, 'big-l').map((v, j) => (j < 20 * 6 ? 0 : v * 0.6 ** (j % 6)));
  const base = multiply(left, gaussianArray(6 * cols, 1, 'big-r'), rows, 6, cols);
  const gradient = (step: number): Float32Array => {
    const noise = gaussianArray(rows * cols, 0.05, 'big-noise', step);
    return Float32Array.from(base, (v, j) => (j < 20 * cols ? 0 : v + noise[j]!));
  };
  const agg = new GreedyLoreAggregator([{ name: 'w', shape: [rows, cols] }], { rank, period: 3, seed: 2 });
  const k = leadingDirections(rows, rank);
  for (const step of [0, 3]) {
    const g = gradient(step);
    await simulatePeers(1, (c) => agg.aggregate([g], c), { step });
    const state = new Float32Array(agg.exportSharedState().buffer.slice(8));
    const { u, s } = svd(g, rows, cols);
    for (let c = 0; c < rank; c++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += state[i * k + c]! * u[i * rows + c]!;
      assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-3, `step ${step}, direction ${c}: ${dot} (sigma ${s[c]})`);
    }
  }
});
