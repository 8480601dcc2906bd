/**
 * GreedyLore (Chen, He, Li, Jia, Yuan 2025; docs/ALGORITHMS.md, GreedyLore): greedy low-rank compression
 * with error feedback and a semi-lazy subspace. Per matrix layer, viewed as X (m x n, m <= n;
 * transposed when the layer is taller than wide):
 *
 *   refresh (step % period == 0):  gbar = AR(G_i)/N dense;  U = left singular vectors of gbar;  e_i = 0
 *   other steps:  M_i = X_i + e_i;  a = AR(rowsum((U^T M_i) .* Z))/N  (Z shared Gaussian, per step)
 *                 S = top-r of a_j^2 (ties: lower j);  P = U[:, S];  R_i = P^T M_i
 *                 e_i = M_i - P R_i;  R = AR(R_i)/N;  ghat = P R
 *
 * a_j^2 estimates the energy of direction j in the mean gradient with one m-vector per peer.
 * U^T M and the probe run on tfjs; the SVD (Jacobi on the m x m Gram matrix), the top-r choice and
 * P R run in f64 TypeScript, so every replica derives the same U, S and ghat.
 * Vectors and layers where m + r n >= mn/2 are sent as is in the first round.
 */
import type { Collective } from '../collective/collective.ts';
import { DisposedError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { CODEC_IDS } from './ids.ts';
import { add, checkGrads, checkLayers, concat, divide, layerSize, matrixView, sentBytes, split, subtract, TAG_DENSE, TAG_MAIN, TAG_SECOND } from './layers.ts';
import { multiply, symmetricEigen } from './linalg.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { decodeSharedState, encodeSharedState, StateKind } from './shared-state.ts';
import { projectAndProbe } from './tensor-ops.ts';
import type { CollectiveBytes, GradientAggregator, LayerShape } from './types.ts';

export interface GreedyLoreInit {
  /** Directions kept per step. */
  rank: number;
  /** Subspace refresh period tau (steps); step 0 is a refresh. */
  period: number;
  /** Run seed: the probes Z. */
  seed: number;
}

/** The working view X (m x n, m <= n) of a layer GreedyLore compresses, or null when it is sent as is. */
export function greedyLoreView(layer: LayerShape, rank: number): { m: number; n: number; transposed: boolean } | null {
  const view = matrixView(layer);
  if (view === null) return null;
  const transposed = view.m > view.n;
  const m = Math.min(view.m, view.n);
  const n = Math.max(view.m, view.n);
  if (rank >= m || m + rank * n >= (m * n) / 2) return null;
  return { m, n, transposed };
}

/** The r indices of largest `energy`, by energy descending, ties by the lower index. */
export function topEnergyIndices(energy: Float64Array, r: number): number[] {
  return Array.from(energy.keys())
    .sort((x, y) => energy[y]! - energy[x]! || x - y)
    .slice(0, r);
}

/** Left singular vectors of X (m x n, m <= n) as an m x m orthonormal basis, f32 columns by singular value. */
export function leftSingularBasis(x: Float32Array, m: number, n: number): Float32Array {
  const gram = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += x[i * n + k]! * x[j * n + k]!;
      gram[i * m + j] = sum;
      gram[j * m + i] = sum;
    }
  }
  return Float32Array.from(symmetricEigen(gram, m).vectors);
}

function transposeF32(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

interface Block {
  m: number;
  n: number;
  transposed: boolean;
}

export class GreedyLoreAggregator implements GradientAggregator {
  readonly name = 'greedylore';
  readonly codecId = CODEC_IDS.greedylore;
  private readonly rank: number;
  private readonly period: number;
  private readonly seed: number;
  private readonly blocks: Array<Block | null>;
  /** e_i in the working (m x n) layout. */
  private errors: Float32Array[];
  /** U (m x m, columns orthonormal) per compressed layer; identity until the first refresh. */
  private bases: Float32Array[];
  private disposed = false;

  constructor(
    private readonly layers: LayerShape[],
    init: GreedyLoreInit,
  ) {
    checkLayers(layers);
    if (!Number.isInteger(init.rank) || init.rank < 1) throw new RangeError(`greedylore rank must be a positive integer, got ${init.rank}`);
    if (!Number.isInteger(init.period) || init.period < 1) throw new RangeError(`greedylore period must be a positive integer, got ${init.period}`);
    this.rank = init.rank;
    this.period = init.period;
    this.seed = init.seed;
    this.blocks = layers.map((layer) => greedyLoreView(layer, this.rank));
    this.errors = this.blocks.map((b) => new Float32Array(b === null ? 0 : b.m * b.n));
    this.bases = this.blocks.map((b) => {
      if (b === null) return new Float32Array(0);
      const u = new Float32Array(b.m * b.m);
      for (let i = 0; i < b.m; i++) u[i * b.m + i] = 1;
      return u;
    });
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    if (this.disposed) throw new DisposedError('greedylore aggregator is disposed');
    checkGrads(grads, this.layers);
    return collective.step % this.period === 0 ? this.refresh(grads, collective) : this.compressed(grads, collective);
  }

  private working(g: Float32Array, b: Block): Float32Array {
    return b.transposed ? transposeF32(g, b.n, b.m) : g;
  }

  private async refresh(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const sum = await collective.allReduceSum(concat(grads), TAG_DENSE);
    const mean = split(divide(sum, collective.size), grads.map((g) => g.length));
    // Identical on every peer; checked before the SVD, which must not see NaN.
    requireFinite('greedylore dense mean', mean);
    const bases = this.blocks.map((b, l) => (b === null ? this.bases[l]! : leftSingularBasis(this.working(mean[l]!, b), b.m, b.n)));
    requireFinite('greedylore basis', bases);
    this.bases = bases;
    this.errors = this.errors.map((e) => new Float32Array(e.length));
    return mean.map((g) => g.slice());
  }

  private async compressed(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const peers = collective.size;
    // Round 1: every compressed layer's probe a_i, then the layers sent as is.
    const local: Array<{ l: number; b: Block; x: Float32Array; w: Float32Array }> = [];
    const probes: Float32Array[] = [];
    const dense: Float32Array[] = [];
    grads.forEach((g, l) => {
      const b = this.blocks[l];
      if (!b) {
        dense.push(g);
        return;
      }
      const e = this.errors[l]!;
      const x = add(this.working(g, b), e);
      const z = Rng.derive(this.seed, collective.step, l, 'greedylore-z').fillGaussian(new Float32Array(b.m * b.n)) as Float32Array;
      const { w, a } = projectAndProbe(this.bases[l]!, x, z, b.m, b.n);
      local.push({ l, b, x, w });
      probes.push(a);
    });
    const first = [...probes, ...dense];
    const firstSums = first.length === 0 ? [] : split(await collective.allReduceSum(concat(first), TAG_MAIN), first.map((x) => x.length));
    // Identical on every peer: all refuse here, before the second round, or none does.
    requireFinite('greedylore probes', firstSums);

    // Round 2: P = U[:, S] from the averaged probe, R_i = P^T M_i (rows S of U^T M_i).
    const nextErrors = this.errors.slice();
    const chosen = local.map(({ l, b, x, w }, i) => {
      const { m, n } = b;
      const selected = topEnergyIndices(Float64Array.from(divide(firstSums[i]!, peers), (v) => v * v), r);
      const u = this.bases[l]!;
      const p = new Float32Array(m * r);
      for (let row = 0; row < m; row++) selected.forEach((col, k) => (p[row * r + k] = u[row * m + col]!));
      const rLocal = new Float32Array(r * n);
      selected.forEach((row, k) => rLocal.set(w.subarray(row * n, (row + 1) * n), k * n));
      const kept = multiply(p, rLocal, m, r, n);
      nextErrors[l] = repairLocal(subtract(x, kept));
      return { p, rLocal };
    });
    const second = chosen.map((c) => c.rLocal);
    const secondSums = second.length === 0 ? [] : split(await collective.allReduceSum(concat(second), TAG_SECOND), second.map((x) => x.length));

    let nextDense = local.length;
    let nextCompressed = 0;
    const update = this.blocks.map((b) => {
      if (!b) return divide(firstSums[nextDense++]!, peers);
      const i = nextCompressed++;
      const ghat = multiply(chosen[i]!.p, divide(secondSums[i]!, peers), b.m, r, b.n);
      return b.transposed ? transposeF32(ghat, b.m, b.n) : ghat;
    });
    requireFinite('greedylore update', update);
    this.errors = nextErrors;
    return update;
  }

  messageBytes(step: number): CollectiveBytes {
    let dense = 0;
    let compressed = 0;
    this.blocks.forEach((b, l) => {
      if (b === null) dense += layerSize(this.layers[l]!);
      else compressed += b.m + this.rank * b.n;
    });
    if (step % this.period === 0) return { allReduce: 4 * this.layers.reduce((s, layer) => s + layerSize(layer), 0), allGather: 0 };
    return { allReduce: 4 * (dense + compressed), allGather: 0 };
  }

  /** A steady step; with period 1 every step is a dense refresh. */
  bytesPerStep(peers: number): number {
    return sentBytes(this.messageBytes(this.period === 1 ? 0 : 1), peers);
  }

  exportSharedState(): Uint8Array {
    return encodeSharedState({ codecId: this.codecId, kind: StateKind.GreedyLore, initialised: true, arrays: this.bases });
  }

  /** A joiner adopts U; its own error starts at zero. */
  importSharedState(bytes: Uint8Array): void {
    this.bases = decodeSharedState(bytes, this.codecId, StateKind.GreedyLore, this.bases.map((u) => u.length)).arrays;
  }

  /**
   * Nothing to re-establish: U is the same on every member and any orthonormal basis is valid for
   * any members (it only ranks directions); e_i is this member's own residual.
   */
  restart(): void {}

  dispose(): void {
    this.disposed = true;
  }
}
