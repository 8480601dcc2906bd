import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../rng.ts';
import { timesThin, transposeTimesThin } from './thin-product.ts';

const random = (length: number, seed: number): Float32Array => new Rng(seed).fillGaussian(new Float32Array(length)) as Float32Array;

/** The textbook product in f64, op(A) B with A m x n. */
function reference(a: Float32Array, m: number, n: number, b: Float32Array, r: number, transpose: boolean): Float64Array {
  const [rows, inner] = transpose ? [n, m] : [m, n];
  const out = new Float64Array(rows * r);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += (transpose ? a[j * n + i]! : a[i * n + j]!) * b[j * r + k]!;
      out[i * r + k] = s;
    }
  }
  return out;
}

describe('thin products (PowerSGD rank <= 16)', () => {
  for (const [m, n, r] of [[1, 1, 1], [7, 5, 3], [784, 256, 4], [33, 65, 16]] as const) {
    it(`${m}x${n} times rank ${r}: M Q and M^T P equal the f64 product rounded to f32`, () => {
      const a = random(m * n, m + n);
      a[0] = 0; // zeros are skipped: still the same product
      const q = random(n * r, 1);
      const p = random(m * r, 2);
      assert.deepEqual(timesThin(a, m, n, q, r), Float32Array.from(reference(a, m, n, q, r, false)));
      assert.deepEqual(transposeTimesThin(a, m, n, p, r), Float32Array.from(reference(a, m, n, p, r, true)));
    });
  }

  it('refuses shapes that do not match', () => {
    assert.throws(() => timesThin(new Float32Array(6), 2, 3, new Float32Array(4), 2), RangeError);
    assert.throws(() => transposeTimesThin(new Float32Array(6), 2, 3, new Float32Array(5), 2), RangeError);
  });
});
