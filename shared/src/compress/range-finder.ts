/**
 * The leading left singular directions of a matrix by subspace iteration (the randomized range
 * finder of Halko, Martinsson and Tropp 2011, with power iterations) and a Rayleigh-Ritz step.
 * Cost O(m n k) per iteration for k directions, against O(m^2 n + m^3) for a full
 * eigendecomposition of the Gram matrix. GreedyLore's refresh decides shared state with it, so it
 * is plain f64 TypeScript in a fixed order of operations: same input, same bits on every replica.
 * Matrices are row-major.
 */
import { orthonormalizeColumns, symmetricEigen } from './linalg.ts';

export interface LeadingSubspace {
  /** m x k, orthonormal columns, by Ritz value descending. */
  vectors: Float64Array;
  /** The k Ritz values: estimates of the squared singular values, descending. */
  values: Float64Array;
}

/** X^T Q as a k x n array (row c = column c of X^T Q), for X m x n and Q m x k. */
function transposedTimes(x: ArrayLike<number>, q: Float64Array, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(k * n);
  for (let i = 0; i < m; i++) {
    const xOff = i * n;
    for (let c = 0; c < k; c++) {
      const qic = q[i * k + c]!;
      if (qic === 0) continue;
      const off = c * n;
      for (let j = 0; j < n; j++) out[off + j]! += qic * x[xOff + j]!;
    }
  }
  return out;
}

/** X Z^T (m x k) for X m x n and Z k x n. */
function timesTransposed(x: ArrayLike<number>, z: Float64Array, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const xOff = i * n;
    for (let c = 0; c < k; c++) {
      const off = c * n;
      let sum = 0;
      for (let j = 0; j < n; j++) sum += x[xOff + j]! * z[off + j]!;
      out[i * k + c] = sum;
    }
  }
  return out;
}

/**
 * The k leading left singular directions of X (m x n), from the start block (m x k; any columns,
 * e.g. the previous directions plus a little shared noise) after `iterations` rounds of
 * Q <- orth(X X^T Q). Directions whose singular values are separated from the (k+1)-th converge
 * at the rate (sigma_{k+1} / sigma_j)^(2 iterations); oversampling k beyond the directions that
 * matter is what makes few iterations enough.
 */
export function leadingLeftSingular(x: ArrayLike<number>, m: number, n: number, start: Float64Array, k: number, iterations: number): LeadingSubspace {
  if (k < 1 || k > m) throw new RangeError(`cannot find ${k} directions in dimension ${m}`);
  if (start.length !== m * k) throw new RangeError(`start block has ${start.length} values, expected ${m * k}`);
  let q = orthonormalizeColumns(Float64Array.from(start), m, k);
  for (let it = 0; it < iterations; it++) q = orthonormalizeColumns(timesTransposed(x, transposedTimes(x, q, m, n, k), m, n, k), m, k);
  // Rayleigh-Ritz: the eigenvectors of Q^T X X^T Q (k x k) rotate Q onto the singular directions.
  const z = transposedTimes(x, q, m, n, k);
  const gram = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    for (let d = c; d < k; d++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += z[c * n + j]! * z[d * n + j]!;
      gram[c * k + d] = sum;
      gram[d * k + c] = sum;
    }
  }
  const { values, vectors: w } = symmetricEigen(gram, k);
  const vectors = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) {
      let sum = 0;
      for (let d = 0; d < k; d++) sum += q[i * k + d]! * w[d * k + c]!;
      vectors[i * k + c] = sum;
    }
  }
  return { vectors, values };
}
