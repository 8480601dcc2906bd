/**
 * A full m x m orthonormal basis U held as K Householder reflectors, U = H_0 H_1 ... H_{K-1} with
 * H_j = I - tau_j v_j v_j^T (v_j zero above row j). Its first K columns are, up to sign, the
 * K orthonormal columns it was built from; the other m - K columns complete them. GreedyLore ranks
 * all m directions of U every step, and this form gives U^T Y and any column of U in O(K m) per
 * column instead of the O(m^2) an explicit U costs. Plain f64 TypeScript, a fixed order of
 * operations: the same input gives the same bits on every replica. Matrices are row-major.
 */

export interface Reflectors {
  /** Rows of U. */
  m: number;
  /** Reflectors (= the leading columns they were built from). */
  k: number;
  /** v_j in row j of a k x m array; entries above j are 0. */
  v: Float64Array;
  tau: Float64Array;
}

/** The reflectors of the Householder QR of Q (m x k, k <= m), whose product U has Q's columns (up to sign) first. */
export function reflectorsOf(q: ArrayLike<number>, m: number, k: number): Reflectors {
  if (k > m) throw new RangeError(`cannot take ${k} reflectors in dimension ${m}`);
  // Column-major working copy: a[c*m + i] = Q[i][c].
  const a = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let c = 0; c < k; c++) a[c * m + i] = q[i * k + c]!;
  const v = new Float64Array(k * m);
  const tau = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const col = j * m;
    let norm = 0;
    for (let i = j; i < m; i++) norm += a[col + i]! * a[col + i]!;
    norm = Math.sqrt(norm);
    if (norm === 0) continue; // a zero column: H_j = I (tau 0)
    // alpha = -sign(x_j) |x| keeps v_j's leading entry away from cancellation.
    const alpha = a[col + j]! >= 0 ? -norm : norm;
    const row = j * m;
    for (let i = j; i < m; i++) v[row + i] = a[col + i]!;
    v[row + j]! -= alpha;
    let vv = 0;
    for (let i = j; i < m; i++) vv += v[row + i]! * v[row + i]!;
    tau[j] = vv === 0 ? 0 : 2 / vv;
    for (let c = j; c < k; c++) reflect(v, row, tau[j]!, a, c * m, 1, j, m);
  }
  return { m, k, v, tau };
}

/** x[off + i*stride] -= tau (v . x) v_i over rows j..m-1: one reflector on one vector. */
function reflect(v: Float64Array, row: number, tau: number, x: Float64Array, off: number, stride: number, j: number, m: number): void {
  if (tau === 0) return;
  let dot = 0;
  for (let i = j; i < m; i++) dot += v[row + i]! * x[off + i * stride]!;
  const s = tau * dot;
  if (s === 0) return;
  for (let i = j; i < m; i++) x[off + i * stride]! -= s * v[row + i]!;
}

/** U^T Y for Y (m x cols, row-major), in place: H_{K-1} ... H_0 Y. */
export function applyTransposed(h: Reflectors, y: Float64Array, cols: number): Float64Array {
  const { m, k, v, tau } = h;
  const dots = new Float64Array(cols);
  for (let j = 0; j < k; j++) {
    const t = tau[j]!;
    if (t === 0) continue;
    const row = j * m;
    dots.fill(0);
    for (let i = j; i < m; i++) {
      const vi = v[row + i]!;
      if (vi === 0) continue;
      const off = i * cols;
      for (let c = 0; c < cols; c++) dots[c]! += vi * y[off + c]!;
    }
    for (let i = j; i < m; i++) {
      const vi = t * v[row + i]!;
      if (vi === 0) continue;
      const off = i * cols;
      for (let c = 0; c < cols; c++) y[off + c]! -= vi * dots[c]!;
    }
  }
  return y;
}

/** Columns `indices` of U as an m x indices.length row-major array: H_0 ... H_{K-1} e_j. */
export function basisColumns(h: Reflectors, indices: readonly number[]): Float64Array {
  const { m, k, v, tau } = h;
  const r = indices.length;
  const out = new Float64Array(m * r);
  indices.forEach((index, c) => {
    if (!Number.isInteger(index) || index < 0 || index >= m) throw new RangeError(`basis column ${index} out of 0..${m - 1}`);
    out[index * r + c] = 1;
    // Reflectors after `index` are zero at row `index`: they leave e_index alone.
    for (let j = Math.min(k - 1, index); j >= 0; j--) reflect(v, j * m, tau[j]!, out, c, r, j, m);
  });
  return out;
}
