/**
 * The heavy local products (M Q, M^T P, M B, P^T M, G Omega) on the active tfjs backend. Their results
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
