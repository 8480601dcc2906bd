/**
 * Heterogeneous least squares over 4 simulated peers: peer i holds its own sparse A_i and b_i
 * (each drawn around its own solution, so local gradients do not vanish at the global optimum)
 * and all run full-gradient descent through an aggregator. The optimum is solved exactly
 * (Cholesky, f64).
 *
 *   f(x) = 1/N sum_i [ |A_i x - b_i|^2 / (2 n_i) ] + lambda/2 |x|^2
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { Rng } from '../rng.ts';
import { createAggregator, type AggregatorConfig } from './index.ts';
import { simulatePeers } from '../testing/simulated-collective.ts';

await tf.setBackend('cpu');

const D = 1000;
const PEERS = 4;
const ROWS = 500;
const NNZ = 10;
const LAMBDA = 0.1;

interface Peer {
  cols: Int32Array; // ROWS x NNZ column indices
  vals: Float64Array; // ROWS x NNZ values
  b: Float64Array;
}

function makePeer(rank: number): Peer {
  const rng = Rng.derive(2024, 'least-squares', rank);
  const cols = new Int32Array(ROWS * NNZ);
  const vals = new Float64Array(ROWS * NNZ);
  // E[A^T A / rows] = I: NNZ entries of magnitude sqrt(D / NNZ) per row.
  const scale = Math.sqrt(D / NNZ);
  for (let row = 0; row < ROWS; row++) {
    const picked = rng.sample(D, NNZ);
    for (let k = 0; k < NNZ; k++) {
      cols[row * NNZ + k] = picked[k]!;
      vals[row * NNZ + k] = (rng.next() < 0.5 ? -1 : 1) * scale;
    }
  }
  // Each peer's data comes from its own solution: heterogeneous.
  const own = Float64Array.from({ length: D }, () => 1 + 2 * rng.gaussian());
  const b = new Float64Array(ROWS);
  for (let row = 0; row < ROWS; row++) {
    let dot = 0;
    for (let k = 0; k < NNZ; k++) dot += vals[row * NNZ + k]! * own[cols[row * NNZ + k]!]!;
    b[row] = dot + 0.5 * rng.gaussian();
  }
  return { cols, vals, b };
}

const PEER_DATA = Array.from({ length: PEERS }, (_, r) => makePeer(r));

function residuals(peer: Peer, x: ArrayLike<number>): Float64Array {
  const res = new Float64Array(ROWS);
  for (let row = 0; row < ROWS; row++) {
    let dot = 0;
    for (let k = 0; k < NNZ; k++) dot += peer.vals[row * NNZ + k]! * x[peer.cols[row * NNZ + k]!]!;
    res[row] = dot - peer.b[row]!;
  }
  return res;
}

function localGradient(peer: Peer, x: Float32Array): Float32Array {
  const res = residuals(peer, x);
  const g = new Float64Array(D);
  for (let j = 0; j < D; j++) g[j] = LAMBDA * x[j]!;
  for (let row = 0; row < ROWS; row++) {
    const r = res[row]! / ROWS;
    for (let k = row * NNZ; k < (row + 1) * NNZ; k++) g[peer.cols[k]!]! += peer.vals[k]! * r;
  }
  const out = new Float32Array(D);
  out.set(g);
  return out;
}

function loss(x: ArrayLike<number>): number {
  let total = 0;
  for (const peer of PEER_DATA) total += residuals(peer, x).reduce((s, r) => s + r * r, 0) / (2 * ROWS);
  let reg = 0;
  for (let j = 0; j < D; j++) reg += x[j]! * x[j]!;
  return total / PEERS + (LAMBDA / 2) * reg;
}

/** The exact minimiser: (1/N sum A_i^T A_i / n_i + lambda I) x = 1/N sum A_i^T b_i / n_i, by Cholesky. */
function solveOptimum(): Float64Array {
  const h = new Float64Array(D * D);
  const v = new Float64Array(D);
  for (const peer of PEER_DATA) {
    for (let row = 0; row < ROWS; row++) {
      for (let p = 0; p < NNZ; p++) {
        const i = peer.cols[row * NNZ + p]!;
        const ai = peer.vals[row * NNZ + p]! / (ROWS * PEERS);
        v[i]! += ai * peer.b[row]!;
        for (let q = 0; q < NNZ; q++) h[i * D + peer.cols[row * NNZ + q]!]! += ai * peer.vals[row * NNZ + q]!;
      }
    }
  }
  for (let i = 0; i < D; i++) h[i * D + i]! += LAMBDA;
  // In-place Cholesky: lower triangle of h becomes L.
  for (let j = 0; j < D; j++) {
    let diag = h[j * D + j]!;
    for (let k = 0; k < j; k++) diag -= h[j * D + k]! ** 2;
    const ljj = Math.sqrt(diag);
    h[j * D + j] = ljj;
    for (let i = j + 1; i < D; i++) {
      let sum = h[i * D + j]!;
      for (let k = 0; k < j; k++) sum -= h[i * D + k]! * h[j * D + k]!;
      h[i * D + j] = sum / ljj;
    }
  }
  const y = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let sum = v[i]!;
    for (let k = 0; k < i; k++) sum -= h[i * D + k]! * y[k]!;
    y[i] = sum / h[i * D + i]!;
  }
  const x = new Float64Array(D);
  for (let i = D - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < D; k++) sum -= h[k * D + i]! * x[k]!;
    x[i] = sum / h[i * D + i]!;
  }
  return x;
}

const OPTIMUM = solveOptimum();
const F_STAR = loss(OPTIMUM);

/** Runs gradient descent through the aggregator; returns f(x_T) - f*. */
async function gap(config: Partial<AggregatorConfig>, lr: number, steps: number): Promise<number> {
  const layers = [{ name: 'x', shape: [D] }];
  const full: AggregatorConfig = { compressor: 'none', ef: 'none', rank: 1, ratio: 1, levels: 1, period: 1, seed: 3, ...config };
  const aggregators = PEER_DATA.map(() => createAggregator(full, layers));
  // Replicas stay identical, so one x stands for all of them.
  const x = new Float32Array(D);
  for (let step = 0; step < steps; step++) {
    const updates = await simulatePeers(PEERS, (c, rank) => aggregators[rank]!.aggregate([localGradient(PEER_DATA[rank]!, x)], c), { step });
    const u = updates[0]![0]!;
    for (let j = 0; j < D; j++) x[j]! -= lr * u[j]!;
  }
  return loss(x) - F_STAR;
}

test('the exact optimum is a stationary point of the summed gradients', () => {
  const x = Float32Array.from(OPTIMUM);
  const g = new Float64Array(D);
  for (const peer of PEER_DATA) localGradient(peer, x).forEach((v, j) => (g[j]! += v / PEERS));
  const local = localGradient(PEER_DATA[0]!, x);
  const norm = (a: ArrayLike<number>): number => {
    let sum = 0;
    for (let j = 0; j < a.length; j++) sum += a[j]! * a[j]!;
    return Math.sqrt(sum);
  };
  assert.ok(norm(g) < 1e-4 * norm(local), `mean gradient ${norm(g)} vs a local one ${norm(local)} (heterogeneous)`);
});

test('EF14 + Top-K 1% reaches the uncompressed loss; Top-K without EF does not', async () => {
  const dense = await gap({}, 0.3, 300);
  const ef = await gap({ compressor: 'topk', ef: 'ef14', ratio: 0.01 }, 0.01, 2000);
  const plain = await gap({ compressor: 'topk', ef: 'none', ratio: 0.01 }, 0.01, 2000);
  assert.ok(dense < 1e-9 * F_STAR, `uncompressed GD reaches the optimum: ${dense}`);
  // With a constant step, EF14 on heterogeneous data hovers in an O(lr^2) band around the optimum.
  assert.ok(F_STAR + ef < 1.05 * (F_STAR + dense), `EF14 loss ${F_STAR + ef} vs uncompressed ${F_STAR + dense}`);
  assert.ok(plain > 10 * ef, `without EF, Top-K is far behind: ${plain} vs ${ef}`);
});

test('DIANA with scaled Random-K converges to the exact optimum', async () => {
  const diana = await gap({ compressor: 'randomk', ef: 'diana', ratio: 0.1 }, 0.03, 1200);
  assert.ok(diana < 1e-6 * F_STAR, `DIANA gap ${diana}`);
  // Shared-seed Random-K is linear: the peers' messages sum to C(mean gradient), whose error
  // omega |grad f(x)|^2 vanishes at the optimum, so plain averaging converges here too.
  const plain = await gap({ compressor: 'randomk', ef: 'none', ratio: 0.1 }, 0.03, 1200);
  assert.ok(plain < 1e-6 * F_STAR, `plain shared-seed Random-K gap ${plain}`);
});

test('with per-peer compression noise (QSGD), plain compressed SGD stalls and DIANA does not', async () => {
  const diana = await gap({ compressor: 'qsgd', ef: 'diana', levels: 1 }, 0.03, 1200);
  const plain = await gap({ compressor: 'qsgd', ef: 'none', levels: 1 }, 0.03, 1200);
  assert.ok(diana < 1e-6 * F_STAR, `DIANA gap ${diana}`);
  assert.ok(plain > 1e-2 * F_STAR, `plain QSGD stalls visibly above the optimum: ${plain}`);
  assert.ok(plain > 1e4 * diana, `plain ${plain} vs DIANA ${diana}`);
});

test('EF21 + Top-K 1% converges', async () => {
  const initial = loss(new Float32Array(D)) - F_STAR;
  const ef21 = await gap({ compressor: 'topk', ef: 'ef21', ratio: 0.01 }, 0.1, 1000);
  assert.ok(ef21 < 1e-6 * initial, `EF21 gap ${ef21} from ${initial}`);
});
