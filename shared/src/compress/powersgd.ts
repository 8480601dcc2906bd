/**
 * PowerSGD (Vogels, Karimireddy, Jaggi 2019; docs/ALGORITHMS.md, PowerSGD): per matrix layer one step of
 * subspace iteration, warm-started from the previous step's Q, with error feedback built in.
 *
 *   M_i = G_i + e_i;  P = AR(M_i Q);  Phat = GramSchmidt(P);  Q = AR(M_i^T Phat)/N
 *   ghat = Phat Q^T;  e_i = M_i - ghat
 *
 * All layers of a phase travel in one allReduceSum: the P phase carries every compressed layer's
 * P_i plus the uncompressed layers (vectors, and matrices with r(m+n) >= mn/2), the Q phase every
 * Q_i. M Q and M^T Phat run in TypeScript up to rank 16 (thin-product.ts: m*n*r work, no upload
 * or readback), on tfjs above; Gram-Schmidt and Phat Q^T run in f64 TypeScript, so every
 * replica derives identical Phat, Q and ghat.
 *
 * One-round variant: even steps send P_i = M_i Qhat (Qhat orthonormal, shared) and apply
 * ghat = P Qhat^T with P = AR(P_i)/N, then Phat = GramSchmidt(P); odd steps send Q_i = M_i^T Phat
 * and apply ghat = Phat Q^T, then Qhat = GramSchmidt(Q). One all-reduce per step, half the latency.
 */
import type { Collective } from '../collective/collective.ts';
import { DisposedError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { CODEC_IDS } from './ids.ts';
import { add, checkGrads, checkLayers, concat, divide, layerSize, matrixView, sentBytes, split, subtract, TAG_MAIN, TAG_SECOND } from './layers.ts';
import { multiplyTransposed, orthonormalizeColumns } from './linalg.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { decodeSharedState, encodeSharedState, StateKind } from './shared-state.ts';
import { matMul } from './tensor-ops.ts';
import { THIN_RANK, timesThin, transposeTimesThin } from './thin-product.ts';

/** M Q (m x r): in TypeScript for a small rank (thin-product.ts), else a tfjs product. */
function times(x: Float32Array, m: number, n: number, q: Float32Array, r: number): Float32Array {
  return r <= THIN_RANK ? timesThin(x, m, n, q, r) : matMul(x, m, n, q, n, r);
}

/** M^T P (n x r), the same way. */
function transposeTimes(x: Float32Array, m: number, n: number, p: Float32Array, r: number): Float32Array {
  return r <= THIN_RANK ? transposeTimesThin(x, m, n, p, r) : matMul(x, m, n, p, m, r, true);
}
import type { CollectiveBytes, GradientAggregator, LayerShape } from './types.ts';

export interface PowerSgdInit {
  /** Rank r of the approximation. */
  rank: number;
  /** Run seed: the initial Q. */
  seed: number;
  /** Alternate P and Q rounds on successive steps. @default false */
  oneRound?: boolean;
  /** Error feedback; off only for ablations and tests of the subspace iteration. @default true */
  errorFeedback?: boolean;
}

/** The m x n view of a layer PowerSGD compresses at rank r, or null when it is sent as is. */
export function powerSgdView(layer: LayerShape, rank: number): { m: number; n: number } | null {
  const view = matrixView(layer);
  if (view === null || rank * (view.m + view.n) >= (view.m * view.n) / 2) return null;
  return view;
}

interface Block {
  m: number;
  n: number;
}

/** Gram-Schmidt in f64 of an f32 matrix's columns, stored back as f32. */
function orthonormal(values: Float32Array | Float64Array, rows: number, cols: number): Float32Array {
  return Float32Array.from(orthonormalizeColumns(Float64Array.from(values), rows, cols));
}

export class PowerSgdAggregator implements GradientAggregator {
  readonly name: string;
  readonly codecId = CODEC_IDS.powersgd;
  private readonly rank: number;
  private readonly oneRound: boolean;
  private readonly errorFeedback: boolean;
  /** Per layer: its matrix view when compressed, null when sent as is. */
  private readonly blocks: Array<Block | null>;
  private errors: Float32Array[];
  /** Two rounds: the warm-start Q (n x r) per layer. One round: Qhat (n x r, orthonormal). */
  private q: Float32Array[];
  /** One round only: Phat (m x r, orthonormal) per layer. */
  private p: Float32Array[];
  private disposed = false;

  constructor(
    private readonly layers: LayerShape[],
    init: PowerSgdInit,
  ) {
    checkLayers(layers);
    if (!Number.isInteger(init.rank) || init.rank < 1) throw new RangeError(`powersgd rank must be a positive integer, got ${init.rank}`);
    this.rank = init.rank;
    this.oneRound = init.oneRound ?? false;
    this.errorFeedback = init.errorFeedback ?? true;
    this.name = this.oneRound ? 'powersgd-1round' : 'powersgd';
    this.blocks = layers.map((layer) => powerSgdView(layer, this.rank));
    const r = this.rank;
    this.errors = this.blocks.map((b) => new Float32Array(b === null ? 0 : b.m * b.n));
    this.q = this.blocks.map((b, l) => {
      if (b === null) return new Float32Array(0);
      const q = Rng.derive(init.seed, 'powersgd-q', l).fillGaussian(new Float32Array(b.n * r)) as Float32Array;
      return this.oneRound ? orthonormal(q, b.n, r) : q;
    });
    this.p = this.blocks.map((b, l) => {
      if (b === null || !this.oneRound) return new Float32Array(0);
      return orthonormal(Rng.derive(init.seed, 'powersgd-p', l).fillGaussian(new Float64Array(b.m * r)), b.m, r);
    });
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    if (this.disposed) throw new DisposedError('powersgd aggregator is disposed');
    checkGrads(grads, this.layers);
    const corrected = grads.map((g, l) => {
      const e = this.errors[l]!;
      return this.blocks[l] === null || !this.errorFeedback ? g : add(g, e);
    });
    if (this.oneRound) return collective.step % 2 === 0 ? this.stepP(corrected, collective) : this.stepQ(corrected, collective);
    return this.stepBoth(corrected, collective);
  }

  /** Two rounds: P then Q. */
  private async stepBoth(corrected: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const peers = collective.size;
    const pParts = corrected.map((x, l) => {
      const b = this.blocks[l];
      return b ? times(x, b.m, b.n, this.q[l]!, r) : x;
    });
    const pSums = await this.allReduce(pParts, collective, TAG_MAIN);
    // Identical on every peer: all refuse here, before the second round, or none does.
    requireFinite('powersgd P', pSums);
    const pHats = pSums.map((sum, l) => {
      const b = this.blocks[l];
      return b ? orthonormal(sum, b.m, r) : sum;
    });
    const qParts: Float32Array[] = [];
    corrected.forEach((x, l) => {
      const b = this.blocks[l];
      if (b) qParts.push(transposeTimes(x, b.m, b.n, pHats[l]!, r));
    });
    const qSums = await this.allReduce(qParts, collective, TAG_SECOND);
    const nextQ = this.q.slice();
    let next = 0;
    const update = pSums.map((sum, l) => {
      const b = this.blocks[l];
      if (!b) return divide(sum, peers);
      const q = divide(qSums[next++]!, peers);
      nextQ[l] = q;
      return multiplyTransposed(pHats[l]!, q, b.m, r, b.n);
    });
    this.commit(corrected, update, { q: nextQ });
    return update;
  }

  /** One round, even step: send P_i = M_i Qhat. */
  private async stepP(corrected: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const parts = corrected.map((x, l) => {
      const b = this.blocks[l];
      return b ? times(x, b.m, b.n, this.q[l]!, r) : x;
    });
    const sums = await this.allReduce(parts, collective, TAG_MAIN);
    requireFinite('powersgd P', sums);
    const nextP = this.p.slice();
    const update = sums.map((sum, l) => {
      const b = this.blocks[l];
      const mean = divide(sum, collective.size);
      if (!b) return mean;
      nextP[l] = orthonormal(mean, b.m, r);
      return multiplyTransposed(mean, this.q[l]!, b.m, r, b.n);
    });
    this.commit(corrected, update, { p: nextP });
    return update;
  }

  /** One round, odd step: send Q_i = M_i^T Phat. */
  private async stepQ(corrected: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    const r = this.rank;
    const parts = corrected.map((x, l) => {
      const b = this.blocks[l];
      return b ? transposeTimes(x, b.m, b.n, this.p[l]!, r) : x;
    });
    const sums = await this.allReduce(parts, collective, TAG_MAIN);
    requireFinite('powersgd Q', sums);
    const nextQ = this.q.slice();
    const update = sums.map((sum, l) => {
      const b = this.blocks[l];
      const mean = divide(sum, collective.size);
      if (!b) return mean;
      nextQ[l] = orthonormal(mean, b.n, r);
      return multiplyTransposed(this.p[l]!, mean, b.m, r, b.n);
    });
    this.commit(corrected, update, { q: nextQ });
    return update;
  }

  /** Sums the parts in one call; skipped when there is nothing to send. */
  private async allReduce(parts: Float32Array[], collective: Collective, tag: number): Promise<Float32Array[]> {
    if (parts.length === 0) return [];
    const sum = await collective.allReduceSum(concat(parts), tag);
    return split(sum, parts.map((x) => x.length));
  }

  /**
   * Runs only after every collective of the step resolved. Refuses the step (NonFiniteError,
   * nothing committed) if the update or the next Q/Phat is not finite; an overflow of this
   * member's own e_i alone drops those entries.
   */
  private commit(corrected: Float32Array[], update: Float32Array[], next: { p?: Float32Array[]; q?: Float32Array[] }): void {
    requireFinite('powersgd update', update);
    requireFinite('powersgd warm start', [...(next.p ?? []), ...(next.q ?? [])]);
    if (this.errorFeedback) {
      this.errors = corrected.map((x, l) => {
        if (this.blocks[l] === null) return this.errors[l]!;
        return repairLocal(subtract(x, update[l]!));
      });
    }
    if (next.p) this.p = next.p;
    if (next.q) this.q = next.q;
  }

  messageBytes(step: number): CollectiveBytes {
    const r = this.rank;
    let dense = 0;
    let pValues = 0;
    let qValues = 0;
    this.blocks.forEach((b, l) => {
      if (b === null) dense += layerSize(this.layers[l]!);
      else {
        pValues += b.m * r;
        qValues += b.n * r;
      }
    });
    if (!this.oneRound) return { allReduce: 4 * (dense + pValues + qValues), allGather: 0 };
    return { allReduce: 4 * (dense + (step % 2 === 0 ? pValues : qValues)), allGather: 0 };
  }

  /** One round: the mean of a P step and a Q step. */
  bytesPerStep(peers: number): number {
    if (!this.oneRound) return sentBytes(this.messageBytes(0), peers);
    return (sentBytes(this.messageBytes(0), peers) + sentBytes(this.messageBytes(1), peers)) / 2;
  }

  private stateKind(): StateKind {
    return this.oneRound ? StateKind.PowerSgdOneRound : StateKind.PowerSgd;
  }

  private sharedArrays(): Float32Array[] {
    return this.oneRound ? [...this.q, ...this.p] : this.q;
  }

  exportSharedState(): Uint8Array {
    return encodeSharedState({ codecId: this.codecId, kind: this.stateKind(), initialised: true, arrays: this.sharedArrays() });
  }

  /** A joiner adopts Q (and Phat); its own error starts at zero. */
  importSharedState(bytes: Uint8Array): void {
    const lengths = this.sharedArrays().map((a) => a.length);
    const { arrays } = decodeSharedState(bytes, this.codecId, this.stateKind(), lengths);
    this.q = arrays.slice(0, this.layers.length);
    if (this.oneRound) this.p = arrays.slice(this.layers.length);
  }

  /**
   * Nothing to re-establish: Q (and Phat) is the same on every member and is only a warm start,
   * valid for any members; e_i is this member's own residual.
   */
  restart(): void {}

  dispose(): void {
    this.disposed = true;
  }
}
