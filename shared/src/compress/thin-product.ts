/**
 * PowerSGD's local products M Q (m x r) and M^T P (n x r) for a small rank r, in plain TypeScript.
 * They cost m*n*r multiply-adds and read M once: for rank 4 on a 784 x 256 layer that is 0.8M,
 * about a millisecond, while a tfjs product on WebGL uploads M and reads the result back (tens of
 * ms on SwiftShader, several on a GPU). Sums run in f64 and are rounded once: each peer's local
 * factor only needs to be close; the all-reduce then gives every replica the same bits.
 */

/** The rank up to which thin products run here rather than as tfjs ops. */
export const THIN_RANK = 16;

/** M (m x n, row-major) times B (n x r): m x r. */
export function timesThin(m: Float32Array, rows: number, cols: number, b: Float32Array, r: number): Float32Array {
  if (m.length !== rows * cols || b.length !== cols * r) throw new RangeError(`timesThin: ${m.length} != ${rows}x${cols} or ${b.length} != ${cols}x${r}`);
  const out = new Float32Array(rows * r);
  const acc = new Float64Array(r);
  for (let i = 0; i < rows; i++) {
    acc.fill(0);
    const row = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = m[row + j]!;
      if (v === 0) continue;
      const bj = j * r;
      for (let k = 0; k < r; k++) acc[k] = acc[k]! + v * b[bj + k]!;
    }
    out.set(acc, i * r);
  }
  return out;
}

/** M^T (M is m x n, row-major) times B (m x r): n x r. */
export function transposeTimesThin(m: Float32Array, rows: number, cols: number, b: Float32Array, r: number): Float32Array {
  if (m.length !== rows * cols || b.length !== rows * r) throw new RangeError(`transposeTimesThin: ${m.length} != ${rows}x${cols} or ${b.length} != ${rows}x${r}`);
  const acc = new Float64Array(cols * r);
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    const bi = i * r;
    for (let j = 0; j < cols; j++) {
      const v = m[row + j]!;
      if (v === 0) continue;
      const aj = j * r;
      for (let k = 0; k < r; k++) acc[aj + k] = acc[aj + k]! + v * b[bi + k]!;
    }
  }
  return Float32Array.from(acc);
}
