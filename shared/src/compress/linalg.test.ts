import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.ts';
import { multiply, multiplyTransposed, orthonormalizeColumns, svd, symmetricEigen, transpose } from './linalg.ts';

function gaussian(length: number, seed: number): Float64Array {
  return new Rng(seed).fillGaussian(new Float64Array(length)) as Float64Array;
}

/** max |A^T A - I| for A rows x cols. */
function orthogonalityError(a: ArrayLike<number>, rows: number, cols: number): number {
  let worst = 0;
  for (let p = 0; p < cols; p++) {
    for (let q = 0; q < cols; q++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += a[i * cols + p]! * a[i * cols + q]!;
      worst = Math.max(worst, Math.abs(dot - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

function frobenius(a: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * a[i]!;
  return Math.sqrt(sum);
}

/** A low-rank m x n matrix: sum of `rank` random outer products. */
function lowRank(m: number, n: number, rank: number, seed: number): Float64Array {
  const left = gaussian(m * rank, seed);
  const right = gaussian(rank * n, seed + 1);
  return Float64Array.from(multiply(left, right, m, rank, n));
}

for (const [m, n, label, a] of [
  [20, 13, 'tall', gaussian(20 * 13, 1)],
  [13, 20, 'wide', gaussian(13 * 20, 2)],
  [15, 10, 'rank-deficient (rank 3)', lowRank(15, 10, 3, 3)],
  [7, 7, 'zero', new Float64Array(49)],
  [1, 6, 'one row', gaussian(6, 4)],
] as Array<[number, number, string, Float64Array]>) {
  test(`svd of a ${label} ${m}x${n} matrix reconstructs it with orthonormal factors`, () => {
    const { u, s, v, p } = svd(a, m, n);
    assert.equal(p, Math.min(m, n));
    const us = Float64Array.from(u, (x, i) => x * s[i % p]!);
    const rebuilt = multiplyTransposed(us, v, m, p, n);
    const diff = Float64Array.from(a, (x, i) => x - rebuilt[i]!);
    // rebuilt is stored as f32, so compare at f32 precision.
    assert.ok(frobenius(diff) <= 1e-6 * Math.max(frobenius(a), 1e-30) + 1e-30, `residual ${frobenius(diff)}`);
    assert.ok(orthogonalityError(u, m, p) < 1e-12, `U not orthonormal: ${orthogonalityError(u, m, p)}`);
    assert.ok(orthogonalityError(v, n, p) < 1e-12, `V not orthonormal: ${orthogonalityError(v, n, p)}`);
    for (let j = 1; j < p; j++) assert.ok(s[j - 1]! >= s[j]! && s[j]! >= 0, 'singular values descending');
    // Squared singular values match the eigenvalues of A^T A (an independent route; Gram stored as f32).
    const at = transpose(a, m, n);
    const gram = multiply(at, a, n, m, n);
    const eig = symmetricEigen(gram, n).values;
    for (let j = 0; j < p; j++) assert.ok(Math.abs(eig[j]! - s[j]! ** 2) <= 1e-6 * s[0]! ** 2 + 1e-30, `sigma_${j}^2`);
  });
}

test('svd residual is exact in f64 (recomputed without f32 storage)', () => {
  const m = 30;
  const n = 17;
  const a = gaussian(m * n, 9);
  const { u, s, v, p } = svd(a, m, n);
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < p; c++) sum += u[i * p + c]! * s[c]! * v[j * p + c]!;
      worst = Math.max(worst, Math.abs(sum - a[i * n + j]!));
    }
  }
  assert.ok(worst < 1e-12, `max error ${worst}`);
});

test('symmetricEigen diagonalises a symmetric matrix with orthonormal vectors', () => {
  const n = 12;
  const b = gaussian(n * n, 5);
  const a = Float64Array.from({ length: n * n }, (_, k) => b[k]! + b[(k % n) * n + Math.floor(k / n)]!);
  const { values, vectors } = symmetricEigen(a, n);
  assert.ok(orthogonalityError(vectors, n, n) < 1e-12);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[k * n + j]!;
      assert.ok(Math.abs(av - values[j]! * vectors[i * n + j]!) < 1e-10);
    }
    if (j > 0) assert.ok(values[j - 1]! >= values[j]!);
  }
});

test('orthonormalizeColumns keeps full rank through zero and dependent columns', () => {
  const rows = 6;
  const cols = 4;
  const a = new Float64Array(rows * cols);
  const g = gaussian(rows, 11);
  for (let i = 0; i < rows; i++) {
    a[i * cols + 0] = g[i]!;
    a[i * cols + 1] = 2 * g[i]!; // dependent
    a[i * cols + 2] = 0; // zero
    a[i * cols + 3] = i; // generic
  }
  orthonormalizeColumns(a, rows, cols);
  assert.ok(orthogonalityError(a, rows, cols) < 1e-12);
  // The first column keeps its direction.
  const norm = frobenius(g);
  for (let i = 0; i < rows; i++) assert.ok(Math.abs(a[i * cols]! - g[i]! / norm) < 1e-12);
});

test('multiply and multiplyTransposed agree with a naive product', () => {
  const [m, k, n] = [5, 4, 3];
  const a = gaussian(m * k, 21);
  const b = gaussian(k * n, 22);
  const ab = multiply(a, b, m, k, n);
  const abt = multiplyTransposed(a, transpose(b, k, n), m, k, n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += a[i * k + c]! * b[c * n + j]!;
      assert.equal(ab[i * n + j], Math.fround(sum));
      assert.equal(abt[i * n + j], Math.fround(sum));
    }
  }
});
