/**
 * Heterogeneous least squares: peer i holds its own dense A_i, b_i drawn around its own solution,
 * so the local gradients do not vanish at the global optimum (the setting where compressing the
 * gradient itself leaves an error that never goes away).
 *
 *   f(x) = 1/N sum_i |A_i x - b_i|^2 / (2 rows) + lambda/2 |x|^2
 *
 * The optimum is solved by conjugate gradients in f64 to machine precision.
 */
import { Rng } from '@tabswarm/shared';

export interface LeastSquares {
  dim: number;
  peers: number;
  localGradient(peer: number, x: ArrayLike<number>): Float32Array;
  loss(x: ArrayLike<number>): number;
  /** f(x*). */
  fStar: number;
  /** Largest eigenvalue of the Hessian (smoothness L). */
  smoothness: number;
}

export function leastSquares(init: { dim: number; peers: number; rows: number; lambda: number; seed: number }): LeastSquares {
  const { dim, peers, rows, lambda } = init;
  const data = Array.from({ length: peers }, (_, p) => {
    const rng = Rng.derive(init.seed, 'least-squares', p);
    // Entries N(0, 1): E[A^T A / rows] = I.
    const a = rng.fillGaussian(new Float64Array(rows * dim)) as Float64Array;
    const own = Float64Array.from({ length: dim }, () => 1 + 2 * rng.gaussian());
    const b = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += a[r * dim + j]! * own[j]!;
      b[r] = dot + 0.5 * rng.gaussian();
    }
    return { a, b };
  });

  const gradient64 = (peer: number, x: ArrayLike<number>, withB: boolean): Float64Array => {
    const { a, b } = data[peer]!;
    const g = new Float64Array(dim);
    for (let j = 0; j < dim; j++) g[j] = lambda * x[j]!;
    for (let r = 0; r < rows; r++) {
      let res = withB ? -b[r]! : 0;
      for (let j = 0; j < dim; j++) res += a[r * dim + j]! * x[j]!;
      res /= rows;
      for (let j = 0; j < dim; j++) g[j]! += a[r * dim + j]! * res;
    }
    return g;
  };
  /** Hessian-vector product of f. */
  const hessian = (v: Float64Array): Float64Array => {
    const out = new Float64Array(dim);
    for (let p = 0; p < peers; p++) gradient64(p, v, false).forEach((g, j) => (out[j]! += g / peers));
    return out;
  };
  const loss = (x: ArrayLike<number>): number => {
    let total = 0;
    for (const { a, b } of data) {
      for (let r = 0; r < rows; r++) {
        let res = -b[r]!;
        for (let j = 0; j < dim; j++) res += a[r * dim + j]! * x[j]!;
        total += (res * res) / (2 * rows * peers);
      }
    }
    let reg = 0;
    for (let j = 0; j < dim; j++) reg += x[j]! * x[j]!;
    return total + (lambda / 2) * reg;
  };

  // Conjugate gradients on H x = c, with c = -grad f(0).
  const c = new Float64Array(dim);
  for (let p = 0; p < peers; p++) gradient64(p, new Float64Array(dim), true).forEach((g, j) => (c[j]! -= g / peers));
  const x = new Float64Array(dim);
  const r = c.slice();
  const d = r.slice();
  let rr = dot(r, r);
  for (let it = 0; it < 10 * dim && rr > 1e-30 * dot(c, c); it++) {
    const hd = hessian(d);
    const alpha = rr / dot(d, hd);
    for (let j = 0; j < dim; j++) {
      x[j]! += alpha * d[j]!;
      r[j]! -= alpha * hd[j]!;
    }
    const next = dot(r, r);
    for (let j = 0; j < dim; j++) d[j] = r[j]! + (next / rr) * d[j]!;
    rr = next;
  }

  return {
    dim,
    peers,
    localGradient: (peer, at) => Float32Array.from(gradient64(peer, at, true)),
    loss,
    fStar: loss(x),
    smoothness: largestEigenvalue(hessian, dim),
  };
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** Power iteration for a symmetric positive semi-definite operator. */
export function largestEigenvalue(apply: (v: Float64Array) => Float64Array, dim: number, iterations = 300): number {
  let v = Float64Array.from({ length: dim }, (_, j) => 1 + ((j * 7919) % 13) / 13);
  let value = 0;
  for (let it = 0; it < iterations; it++) {
    const w = apply(v);
    value = Math.sqrt(dot(w, w)) / Math.sqrt(dot(v, v));
    const norm = Math.sqrt(dot(w, w));
    v = w.map((x) => x / norm);
  }
  return value;
}
