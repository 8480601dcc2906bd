import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.ts';
import { orthonormalizeColumns, svd } from './linalg.ts';
import { leadingLeftSingular } from './range-finder.ts';

/** X = L diag(s) R^T (m x n) with orthonormal L (m x p), R (n x p) from the seed: its singular values are s. */
function withSpectrum(m: number, n: number, s: number[], seed: number): { x: Float64Array; left: Float64Array } {
  const p = s.length;
  const rng = new Rng(seed);
  const left = orthonormalizeColumns(rng.fillGaussian(new Float64Array(m * p)) as Float64Array, m, p);
  const right = orthonormalizeColumns(rng.fillGaussian(new Float64Array(n * p)) as Float64Array, n, p);
  const x = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let c = 0; c < p; c++) x[i * n + j]! += left[i * p + c]! * s[c]! * right[j * p + c]!;
  return { x, left };
}

function columnDot(a: Float64Array, ka: number, ca: number, b: Float64Array, kb: number, cb: number, m: number): number {
  let dot = 0;
  for (let i = 0; i < m; i++) dot += a[i * ka + ca]! * b[i * kb + cb]!;
  return dot;
}

const gaussian = (length: number, seed: number): Float64Array => new Rng(seed).fillGaussian(new Float64Array(length)) as Float64Array;

test('from a random start, a few iterations find the leading directions of a decaying spectrum', () => {
  const [m, n, k] = [60, 90, 10];
  // 30 singular values halving every two: the top 4 are well separated from the 11th.
  const s = Array.from({ length: 30 }, (_, i) => 0.5 ** (i / 2));
  const { x, left } = withSpectrum(m, n, s, 1);
  const found = leadingLeftSingular(x, m, n, gaussian(m * k, 2), k, 4);
  for (let c = 0; c < 4; c++) {
    assert.ok(Math.abs(Math.abs(columnDot(found.vectors, k, c, left, 30, c, m)) - 1) < 1e-6, `direction ${c}`);
    assert.ok(Math.abs(found.values[c]! - s[c]! ** 2) < 1e-6 * s[0]! ** 2, `value ${c}: ${found.values[c]} vs ${s[c]! ** 2}`);
  }
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) assert.ok(Math.abs(columnDot(found.vectors, k, a, found.vectors, k, b, m) - (a === b ? 1 : 0)) < 1e-12);
  }
  for (let c = 1; c < k; c++) assert.ok(found.values[c]! <= found.values[c - 1]!, 'Ritz values descend');
});

test('a warm start needs fewer iterations: started at the answer, none are needed', () => {
  const [m, n, k] = [40, 50, 6];
  const { x, left } = withSpectrum(m, n, [5, 4, 3, 2, 1, 0.5], 3);
  const cold = leadingLeftSingular(x, m, n, gaussian(m * k, 4), k, 0);
  const warm = leadingLeftSingular(x, m, n, left, k, 0);
  const misses = (v: Float64Array): number => Math.abs(Math.abs(columnDot(v, k, 0, left, k, 0, m)) - 1);
  assert.ok(misses(warm.vectors) < 1e-12);
  assert.ok(misses(cold.vectors) > 1e-3, 'a random start alone is not the answer');
});

test('with k = m it is the exact SVD, and a rank-deficient input still gets orthonormal directions', () => {
  const [m, n] = [8, 13];
  const x = gaussian(m * n, 5);
  const found = leadingLeftSingular(x, m, n, gaussian(m * m, 6), m, 1);
  const exact = svd(x, m, n);
  for (let c = 0; c < m; c++) {
    assert.ok(Math.abs(Math.abs(columnDot(found.vectors, m, c, exact.u, m, c, m)) - 1) < 1e-9, `column ${c}`);
    assert.ok(Math.abs(found.values[c]! - exact.s[c]! ** 2) < 1e-9 * exact.s[0]! ** 2);
  }
  // Rows 0..2 are zero (as MNIST's border pixels are): rank 2 < k.
  const low = new Float64Array(m * n);
  low.set(withSpectrum(m - 3, n, [3, 1], 7).x, 3 * n);
  const k = 5;
  const deficient = leadingLeftSingular(low, m, n, gaussian(m * k, 8), k, 2);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) assert.ok(Math.abs(columnDot(deficient.vectors, k, a, deficient.vectors, k, b, m) - (a === b ? 1 : 0)) < 1e-9);
  }
  assert.ok(Math.abs(deficient.values[0]! - 9) < 1e-9 && Math.abs(deficient.values[1]! - 1) < 1e-9);
  assert.throws(() => leadingLeftSingular(x, m, n, gaussian(m * 2, 1), 3, 1), RangeError);
});
