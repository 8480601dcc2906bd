import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.ts';
import { applyTransposed, basisColumns, reflectorsOf } from './householder.ts';
import { orthonormalizeColumns } from './linalg.ts';

/** Q (m x k) with orthonormal columns from a seeded Gaussian. */
function randomOrthonormal(m: number, k: number, seed: number): Float64Array {
  return orthonormalizeColumns(new Rng(seed).fillGaussian(new Float64Array(m * k)) as Float64Array, m, k);
}

const all = (m: number): number[] => Array.from({ length: m }, (_, i) => i);

test('the reflectors of Q make a full orthonormal basis whose first k columns are Q (up to sign)', () => {
  for (const [m, k] of [[20, 5], [9, 9], [7, 1], [30, 12]] as Array<[number, number]>) {
    const q = randomOrthonormal(m, k, m * 100 + k);
    const h = reflectorsOf(q, m, k);
    const u = basisColumns(h, all(m));
    for (let a = 0; a < m; a++) {
      for (let b = a; b < m; b++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += u[i * m + a]! * u[i * m + b]!;
        assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12, `${m}x${k}: U^T U [${a}, ${b}] = ${dot}`);
      }
    }
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += u[i * m + c]! * q[i * k + c]!;
      assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-12, `${m}x${k}: column ${c} is not Q's: ${dot}`);
    }
  }
});

test('applyTransposed is U^T Y, and basisColumns picks columns in the asked order', () => {
  const [m, k, cols] = [15, 4, 3];
  const h = reflectorsOf(randomOrthonormal(m, k, 3), m, k);
  const u = basisColumns(h, all(m));
  const y = new Rng(4).fillGaussian(new Float64Array(m * cols)) as Float64Array;
  const projected = applyTransposed(h, Float64Array.from(y), cols);
  for (let j = 0; j < m; j++) {
    for (let c = 0; c < cols; c++) {
      let expected = 0;
      for (let i = 0; i < m; i++) expected += u[i * m + j]! * y[i * cols + c]!;
      assert.ok(Math.abs(projected[j * cols + c]! - expected) < 1e-12);
    }
  }
  const picked = basisColumns(h, [11, 2, 7]);
  [11, 2, 7].forEach((col, c) => {
    for (let i = 0; i < m; i++) assert.equal(picked[i * 3 + c], u[i * m + col]);
  });
  assert.throws(() => basisColumns(h, [m]), RangeError);
});

test('identity columns give a signed identity, a zero column no reflection, and the same bits every time', () => {
  const [m, k] = [6, 3];
  const identity = new Float64Array(m * k);
  for (let c = 0; c < k; c++) identity[c * k + c] = 1;
  const u = basisColumns(reflectorsOf(identity, m, k), all(m));
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) assert.equal(Math.abs(u[i * m + j]!), i === j ? 1 : 0);
  const zero = reflectorsOf(new Float64Array(m * 2), m, 2);
  assert.deepEqual([...zero.tau], [0, 0]);
  const q = randomOrthonormal(m, k, 9);
  assert.deepEqual(basisColumns(reflectorsOf(q, m, k), all(m)), basisColumns(reflectorsOf(Float64Array.from(q), m, k), all(m)));
  assert.throws(() => reflectorsOf(q, 2, k), RangeError);
});
