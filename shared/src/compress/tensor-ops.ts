/**
 * The heavy local products (M Q, M^T P, U^T M, G Omega) on the active tfjs backend. Their results
 * only feed this peer's message, so backends may differ in the last bits; nothing computed here
 * decides shared state directly. Every tensor created here is disposed before returning.
 */
import * as tf from '@tensorflow/tfjs-core';

/** op(A) op(B) with op = transpose where asked; A is aRows x aCols, B is bRows x bCols as stored. */
export function matMul(
  a: Float32Array,
  aRows: number,
  aCols: number,
  b: Float32Array,
  bRows: number,
  bCols: number,
  transposeA = false,
  transposeB = false,
): Float32Array {
  const product = tf.tidy(() =>
    tf.matMul(tf.tensor2d(a, [aRows, aCols]), tf.tensor2d(b, [bRows, bCols]), transposeA, transposeB),
  );
  try {
    return product.dataSync() as Float32Array;
  } finally {
    product.dispose();
  }
}

/**
 * GreedyLore's local pass over one layer: W = U^T M (m x n) and its probe a = rowsum(W .* Z) (m),
 * both from one upload of M.
 */
export function projectAndProbe(
  u: Float32Array,
  x: Float32Array,
  z: Float32Array,
  m: number,
  n: number,
): { w: Float32Array; a: Float32Array } {
  const [w, a] = tf.tidy(() => {
    const projected = tf.matMul(tf.tensor2d(u, [m, m]), tf.tensor2d(x, [m, n]), true, false);
    return [projected, tf.sum(tf.mul(projected, tf.tensor2d(z, [m, n])), 1)];
  });
  try {
    return { w: w.dataSync() as Float32Array, a: a.dataSync() as Float32Array };
  } finally {
    w.dispose();
    a.dispose();
  }
}
