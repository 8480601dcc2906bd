/**
 * Small dense linear algebra in plain TypeScript, float64 accumulation. Everything that decides
 * shared state after an all-reduce runs here, not on a tfjs backend: only +, -, *, / and sqrt
 * (correctly rounded in every JS engine), in a fixed order, so every replica gets the same bits.
 * Matrices are row-major.
 */

const EPS = 2.220446049250313e-16;
const MAX_SWEEPS = 60;

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** A (m x k) times B (k x n), f64 sums, stored as f32. */
export function multiply(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float32Array {
  return subtractProduct(null, a, b, m, k, n);
}

/**
 * X - A B (or A B when X is null) for A m x k, B k x n: each entry's products summed in f64 with c
 * ascending, then stored as f32. The inputs are copied to f64 first (exact), so the loops see one
 * array type whatever the callers pass.
 */
export function subtractProduct(x: Float32Array | null, a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float32Array {
  const left = Float64Array.from(a);
  const right = Float64Array.from(b);
  const out = new Float32Array(m * n);
  // One dot product per entry (k streams of B read in order), not a row buffer added to k times:
  // half the memory traffic for the small k of the low-rank codecs.
  for (let i = 0; i < m; i++) {
    const at = i * n;
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += left[ai + c]! * right[c * n + j]!;
      out[at + j] = x === null ? sum : x[at + j]! - sum;
    }
  }
  return out;
}

/** A (m x r) times B^T, B (n x r): the low-rank decompression, f64 sums, stored as f32. */
export function multiplyTransposed(a: ArrayLike<number>, b: ArrayLike<number>, m: number, r: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < r; c++) sum += a[i * r + c]! * b[j * r + c]!;
      out[i * n + j] = sum;
    }
  }
  return out;
}

/**
 * Modified Gram-Schmidt on the columns of `a` (rows x cols, cols <= rows), in place. A column that
 * is (numerically) in the span of the previous ones is replaced by the first unit vector that is
 * not, so the result always has orthonormal columns (PowerSGD must not lose a rank to a zero P).
 */
export function orthonormalizeColumns(a: Float64Array, rows: number, cols: number): Float64Array {
  if (cols > rows) throw new RangeError(`cannot orthonormalize ${cols} columns of length ${rows}`);
  for (let c = 0; c < cols; c++) {
    const before = columnNorm(a, rows, cols, c);
    projectOut(a, rows, cols, c);
    const after = columnNorm(a, rows, cols, c);
    if (after > 1e-10 * before && after > 0) {
      scaleColumn(a, rows, cols, c, 1 / after);
      continue;
    }
    for (let unit = 0; unit < rows; unit++) {
      for (let i = 0; i < rows; i++) a[i * cols + c] = i === unit ? 1 : 0;
      projectOut(a, rows, cols, c);
      projectOut(a, rows, cols, c); // twice: unit vectors can be nearly in the span
      const norm = columnNorm(a, rows, cols, c);
      if (norm > 0.5) {
        scaleColumn(a, rows, cols, c, 1 / norm);
        break;
      }
    }
  }
  return a;
}

function columnNorm(a: Float64Array, rows: number, cols: number, c: number): number {
  let sum = 0;
  for (let i = 0; i < rows; i++) sum += a[i * cols + c]! * a[i * cols + c]!;
  return Math.sqrt(sum);
}

function scaleColumn(a: Float64Array, rows: number, cols: number, c: number, factor: number): void {
  for (let i = 0; i < rows; i++) a[i * cols + c]! *= factor;
}

/** Removes from column c its components along columns 0..c-1 (assumed orthonormal), one at a time (MGS). */
function projectOut(a: Float64Array, rows: number, cols: number, c: number): void {
  for (let p = 0; p < c; p++) {
    let dot = 0;
    for (let i = 0; i < rows; i++) dot += a[i * cols + p]! * a[i * cols + c]!;
    for (let i = 0; i < rows; i++) a[i * cols + c]! -= dot * a[i * cols + p]!;
  }
}

/** Jacobi rotation tangent t solving t^2 + 2 zeta t - 1 = 0, the root of smaller magnitude. */
function rotationTangent(zeta: number): number {
  const sign = zeta < 0 ? -1 : 1;
  const abs = Math.abs(zeta);
  if (abs > 1e150) return sign / (2 * abs);
  return sign / (abs + Math.sqrt(1 + abs * abs));
}

/** Indices 0..n-1 by `values` descending, ties by lower index. */
function descendingOrder(values: Float64Array): number[] {
  return Array.from(values.keys()).sort((x, y) => values[y]! - values[x]! || x - y);
}

export interface Svd {
  /** m x p, orthonormal columns (completed where a singular value is zero). */
  u: Float64Array;
  /** p = min(m, n) singular values, descending. */
  s: Float64Array;
  /** n x p, orthonormal columns. */
  v: Float64Array;
  p: number;
}

/** Thin SVD A = U diag(s) V^T of A (m x n) by one-sided (Hestenes) Jacobi, float64. */
export function svd(a: ArrayLike<number>, m: number, n: number): Svd {
  if (m < n) {
    const t = svd(transpose(a, m, n), n, m);
    return { u: t.v, s: t.s, v: t.u, p: t.p };
  }
  // Columns stored contiguously: w[c*m + i] = A[i][c]; v likewise, n x n starting at I.
  const w = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let c = 0; c < n; c++) w[c * m + i] = a[i * n + c]!;
  const v = new Float64Array(n * n);
  for (let c = 0; c < n; c++) v[c * n + c] = 1;
  const tol = Math.max(m, 10) * EPS;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = w[p * m + i]!;
          const y = w[q * m + i]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const t = rotationTangent((beta - alpha) / (2 * gamma));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(w, p * m, q * m, m, c, s);
        rotate(v, p * n, q * n, n, c, s);
      }
    }
    if (!rotated) break;
  }
  const norms = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += w[c * m + i]! * w[c * m + i]!;
    norms[c] = Math.sqrt(sum);
  }
  const order = descendingOrder(norms);
  const largest = norms[order[0] ?? 0] ?? 0;
  const u = new Float64Array(m * n);
  const s = new Float64Array(n);
  const vOut = new Float64Array(n * n);
  order.forEach((src, dst) => {
    const sigma = norms[src]!;
    const zero = !(sigma > tol * largest);
    s[dst] = zero ? 0 : sigma;
    for (let i = 0; i < m; i++) u[i * n + dst] = zero ? 0 : w[src * m + i]! / sigma;
    for (let i = 0; i < n; i++) vOut[i * n + dst] = v[src * n + i]!;
  });
  // Cleans the numerically orthonormal columns and completes the zero ones.
  orthonormalizeColumns(u, m, n);
  return { u, s, v: vOut, p: n };
}

function rotate(a: Float64Array, p: number, q: number, len: number, c: number, s: number): void {
  for (let i = 0; i < len; i++) {
    const x = a[p + i]!;
    const y = a[q + i]!;
    a[p + i] = c * x - s * y;
    a[q + i] = s * x + c * y;
  }
}

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n x n, column j is the eigenvector of values[j]; orthonormal. */
  vectors: Float64Array;
}

/** Eigendecomposition of the symmetric n x n matrix `a` by cyclic Jacobi, float64. */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  const w = Float64Array.from({ length: n * n }, (_, i) => a[i]!);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += w[i]! * w[i]!;
  const tol = (n * EPS) ** 2 * total;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += w[p * n + q]! * w[p * n + q]!;
    if (off <= tol) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = w[p * n + q]!;
        if (apq === 0) continue;
        const t = rotationTangent((w[q * n + q]! - w[p * n + p]!) / (2 * apq));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let k = 0; k < n; k++) {
          const x = w[k * n + p]!;
          const y = w[k * n + q]!;
          w[k * n + p] = c * x - s * y;
          w[k * n + q] = s * x + c * y;
        }
        for (let k = 0; k < n; k++) {
          const x = w[p * n + k]!;
          const y = w[q * n + k]!;
          w[p * n + k] = c * x - s * y;
          w[q * n + k] = s * x + c * y;
        }
        for (let k = 0; k < n; k++) {
          const x = v[k * n + p]!;
          const y = v[k * n + q]!;
          v[k * n + p] = c * x - s * y;
          v[k * n + q] = s * x + c * y;
        }
      }
    }
  }
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = w[i * n + i]!;
  const order = descendingOrder(diag);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = diag[src]!;
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}
