/**
 * GreedyLore (Chen, He, Li, Jia, Yuan 2025; docs/ALGORITHMS.md, GreedyLore): greedy low-rank compression
 * with error feedback and a semi-lazy subspace. Per matrix layer, viewed as X (m x n, m <= n;
 * transposed when the layer is taller than wide):
 *
 *   refresh (step % period == 0):  gbar = AR(G_i)/N dense;  Q = the K leading left singular
 *                 directions of gbar (subspace iteration warm-started from the previous Q);
 *                 U = Q completed to an m x m orthonormal basis;  e_i = 0
 *   other steps:  M_i = X_i + e_i;  a = AR(rowsum((U^T M_i) .* Z))/N  (Z = A B^T / sqrt(k), shared)
 *                 S = top-r of a_j^2 (ties: lower j);  P = U[:, S];  R_i = P^T M_i
 *                 e_i = M_i - P R_i;  R = AR(R_i)/N;  ghat = P R
 *
 * a_j^2 estimates the energy of direction j in the mean gradient with one m-vector per peer. The
 * probe's Z is a rank-k product of shared Gaussians, so rowsum((U^T M) .* Z) = rowsum((U^T M B) .* A)
 * costs m n k, and U is held as K Householder reflectors (householder.ts), so U^T (M B) and P cost
 * O(K m k) and O(K m r): nothing grows with m^2. M B and P^T M run on tfjs (local values);
 * the refresh, the top-r choice, P and P R run in f64 TypeScript, so every replica derives the
 * same U, S and ghat. Vectors and layers where m + r n >= mn/2 are sent as is in the first round.
 */
import type { Collective } from '../collective/collective.ts';
import { DisposedError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { CODEC_IDS } from './ids.ts';
import { add, checkGrads, checkLayers, concat, divide, layerSize, matrixView, sentBytes, split, TAG_DENSE, TAG_MAIN, TAG_SECOND } from './layers.ts';
import { applyTransposed, basisColumns, reflectorsOf, type Reflectors } from './householder.ts';
import { multiply, subtractProduct } from './linalg.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { leadingLeftSingular } from './range-finder.ts';
import { decodeSharedState, encodeSharedState, StateKind } from './shared-state.ts';
import { matMul } from './tensor-ops.ts';
import type { CollectiveBytes, GradientAggregator, LayerShape } from './types.ts';

export interface GreedyLoreInit {
  /** Directions kept per step. */
  rank: number;
  /** Subspace refresh period tau (steps); step 0 is a refresh. */
  period: number;
  /** Run seed: the probes and the range finder's start. */
  seed: number;
}

/** Columns k of the probe's Z = A B^T / sqrt(k). a_j^2 stays unbiased; its variance is (1 + 3/k) times a dense Z's, for m n k multiply-adds instead of m^2 n. */
export const PROBE_COLUMNS = 4;
/** Subspace iterations of a refresh from random directions, and from the previous ones (warm). */
export const COLD_ITERATIONS = 4;
export const WARM_ITERATIONS = 2;
/** Shared noise added to a warm start (relative to its unit columns), so no direction of gbar is missed for good. */
const WARM_START_NOISE = 0.1;

/**
 * Leading directions a refresh computes: r plus as many again and 8 more to spare (the range
 * finder's oversampling, which lets two iterations resolve the top r), at most m.
 */
export function leadingDirections(m: number, rank: number): number {
  return Math.min(m, 2 * rank + 8);
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

function transposeF32(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** The first k columns of the m x m identity, row-major: the basis before any refresh. */
function identityColumns(m: number, k: number): Float32Array {
  const q = new Float32Array(m * k);
  for (let c = 0; c < k; c++) q[c * k + c] = 1;
  return q;
}

/**
 * This peer's probe of one layer at one step, rowsum((U^T M) .* Z) with the shared Z = A B^T / sqrt(k)
 * (B n x k, then A m x k, from `rng`): from Y = M B (tfjs), a_j = (U^T Y)_j . A_j / sqrt(k).
 * E[Z_jl Z_jl'] = [l = l'], so E[a_j^2] = |u_j^T M|^2, and the probe is linear in M.
 */
export function probeLayer(x: Float32Array, basis: Reflectors, rng: Rng, m: number, n: number): Float32Array {
  const k = PROBE_COLUMNS;
  const right = rng.fillGaussian(new Float32Array(n * k)) as Float32Array;
  const left = rng.fillGaussian(new Float64Array(m * k));
  const w = applyTransposed(basis, Float64Array.from(matMul(x, m, n, right, n, k)), k);
  const out = new Float32Array(m);
  const scale = 1 / Math.sqrt(k);
  for (let j = 0; j < m; j++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += w[j * k + c]! * left[j * k + c]!;
    out[j] = sum * scale;
  }
  return out;
}

interface Block {
  m: number;
  n: number;
  transposed: boolean;
  /** K, the leading directions kept in the shared state. */
  k: number;
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
  /** Shared: Q (m x K, the leading directions of the last refresh) per compressed layer; identity columns before. */
  private leading: Float32Array[];
  /** Shared: whether a refresh has run (the next one starts warm from Q). */
  private refreshed = false;
  /** U as reflectors, derived from `leading` (same bits in, same bits out). */
  private bases: Array<Reflectors | null>;
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
    this.blocks = layers.map((layer) => {
      const view = greedyLoreView(layer, this.rank);
      return view === null ? null : { ...view, k: leadingDirections(view.m, this.rank) };
    });
    this.errors = this.blocks.map((b) => new Float32Array(b === null ? 0 : b.m * b.n));
    this.leading = this.blocks.map((b) => (b === null ? new Float32Array(0) : identityColumns(b.m, b.k)));
    this.bases = this.derivedBases();
  }

  private derivedBases(): Array<Reflectors | null> {
    return this.blocks.map((b, l) => (b === null ? null : reflectorsOf(this.leading[l]!, b.m, b.k)));
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
    // Identical on every peer; checked before the range finder, which must not see NaN.
    requireFinite('greedylore dense mean', mean);
    const leading = this.blocks.map((b, l) => {
      if (b === null) return this.leading[l]!;
      const { m, n, k } = b;
      const rng = Rng.derive(this.seed, collective.step, l, 'greedylore-start');
      const start = this.refreshed
        ? Float64Array.from(rng.fillGaussian(new Float64Array(m * k), WARM_START_NOISE / Math.sqrt(m)), (v, j) => v + this.leading[l]![j]!)
        : (rng.fillGaussian(new Float64Array(m * k)) as Float64Array);
      const found = leadingLeftSingular(this.working(mean[l]!, b), m, n, start, k, this.refreshed ? WARM_ITERATIONS : COLD_ITERATIONS);
      return Float32Array.from(found.vectors);
    });
    requireFinite('greedylore basis', leading);
    this.leading = leading;
    this.refreshed = true;
    this.bases = this.derivedBases();
    this.errors = this.errors.map((e) => new Float32Array(e.length));
    return mean.map((g) => g.slice());
  }

  private async compressed(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const peers = collective.size;
    // Round 1: every compressed layer's probe a_i, then the layers sent as is.
    const local: Array<{ l: number; b: Block; x: Float32Array }> = [];
    const probes: Float32Array[] = [];
    const dense: Float32Array[] = [];
    grads.forEach((g, l) => {
      const b = this.blocks[l];
      if (!b) {
        dense.push(g);
        return;
      }
      const { m, n } = b;
      const x = add(this.working(g, b), this.errors[l]!);
      local.push({ l, b, x });
      probes.push(probeLayer(x, this.bases[l]!, Rng.derive(this.seed, collective.step, l, 'greedylore-probe'), m, n));
    });
    const first = [...probes, ...dense];
    const firstSums = first.length === 0 ? [] : split(await collective.allReduceSum(concat(first), TAG_MAIN), first.map((x) => x.length));
    // Identical on every peer: all refuse here, before the second round, or none does.
    requireFinite('greedylore probes', firstSums);

    // Round 2: P = U[:, S] from the averaged probe, R_i = P^T M_i.
    const nextErrors = this.errors.slice();
    const chosen = local.map(({ l, b, x }, i) => {
      const selected = topEnergyIndices(Float64Array.from(divide(firstSums[i]!, peers), (v) => v * v), r);
      const p = Float32Array.from(basisColumns(this.bases[l]!, selected));
      const coeffs = matMul(p, b.m, r, x, b.m, b.n, true);
      nextErrors[l] = repairLocal(subtractProduct(x, p, coeffs, b.m, r, b.n));
      return { p, coeffs };
    });
    const second = chosen.map((c) => c.coeffs);
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

  /** Q per compressed layer (U is derived from it); `initialised` says whether a refresh has run. */
  exportSharedState(): Uint8Array {
    return encodeSharedState({ codecId: this.codecId, kind: StateKind.GreedyLore, initialised: this.refreshed, arrays: this.leading });
  }

  /** A joiner adopts Q and derives the same U; its own error starts at zero. */
  importSharedState(bytes: Uint8Array): void {
    const state = decodeSharedState(bytes, this.codecId, StateKind.GreedyLore, this.leading.map((q) => q.length));
    this.leading = state.arrays;
    this.refreshed = state.initialised;
    this.bases = this.derivedBases();
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
