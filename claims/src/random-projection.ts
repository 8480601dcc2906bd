/**
 * The baseline GreedyLore is measured against: a fixed random low-rank projection with error
 * feedback. Per matrix layer (seen with its shorter side m first, as GreedyLore sees it) a random
 * orthonormal P (m x r) is drawn once from the seed, the same on every peer; each step sends
 * R_i = P^T M_i (r x n), applies P mean(R_i) and keeps e_i = M_i - P R_i. Vectors and layers that
 * would not shrink 2x go dense. Its contraction is 1 - r/m in expectation, on every input alike:
 * the directions are not chosen.
 */
import { matrixView, orthonormalizeColumns, Rng, type Collective, type CollectiveBytes, type LayerShape } from '@tabswarm/shared';
import type { Aggregate } from './steps.ts';

interface Projected {
  /** Rows and columns of the worked-on view (m <= n); `transposed` if the layer is tall. */
  m: number;
  n: number;
  transposed: boolean;
  p: Float64Array;
}

export class RandomProjectionAggregator implements Aggregate {
  private readonly views: Array<Projected | null>;
  private readonly errors: Float32Array[];

  constructor(private readonly layers: LayerShape[], private readonly rank: number, seed: number) {
    this.views = layers.map((layer, l) => {
      const v = matrixView(layer);
      if (v === null) return null;
      const [m, n, transposed] = v.m <= v.n ? [v.m, v.n, false] : [v.n, v.m, true];
      if (rank >= m || m * rank + rank * n >= (m * n) / 2) return null;
      const p = orthonormalizeColumns(Rng.derive(seed, 'random-projection', l).fillGaussian(new Float64Array(m * rank)) as Float64Array, m, rank);
      return { m, n, transposed, p };
    });
    this.errors = layers.map((layer) => new Float32Array(layer.shape.reduce((a, b) => a * b, 1)));
  }

  messageBytes(): CollectiveBytes {
    const values = this.layers.reduce((sum, layer, l) => {
      const v = this.views[l];
      return sum + (v ? this.rank * v.n : layer.shape.reduce((a, b) => a * b, 1));
    }, 0);
    return { allReduce: 4 * values, allGather: 0 };
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const corrected = grads.map((g, l) => (this.views[l] ? Float32Array.from(g, (x, j) => x + this.errors[l]![j]!) : g));
    const at = (v: Projected, i: number, j: number): number => (v.transposed ? j * v.m + i : i * v.n + j);
    const parts = corrected.map((mat, l) => {
      const v = this.views[l];
      if (!v) return mat;
      const out = new Float32Array(r * v.n);
      for (let k = 0; k < r; k++) {
        for (let j = 0; j < v.n; j++) {
          let s = 0;
          for (let i = 0; i < v.m; i++) s += v.p[i * r + k]! * mat[at(v, i, j)]!;
          out[k * v.n + j] = s;
        }
      }
      return out;
    });
    const flat = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      flat.set(p, offset);
      offset += p.length;
    }
    const sum = await collective.allReduceSum(flat, 1);
    offset = 0;
    return parts.map((part, l) => {
      const mean = Float32Array.from(sum.subarray(offset, offset + part.length), (x) => x / collective.size);
      offset += part.length;
      const v = this.views[l];
      if (!v) return mean;
      const update = new Float32Array(v.m * v.n);
      const own = new Float32Array(v.m * v.n);
      for (let i = 0; i < v.m; i++) {
        for (let j = 0; j < v.n; j++) {
          let u = 0;
          let o = 0;
          for (let k = 0; k < r; k++) {
            u += v.p[i * r + k]! * mean[k * v.n + j]!;
            o += v.p[i * r + k]! * part[k * v.n + j]!;
          }
          update[at(v, i, j)] = u;
          own[at(v, i, j)] = o;
        }
      }
      const m = corrected[l]!;
      this.errors[l] = Float32Array.from(m, (x, j) => x - own[j]!);
      return update;
    });
  }

  dispose(): void {}
}
