/**
 * DIANA / shifted compression (docs/ALGORITHMS.md, DIANA): compress g_i - h_i instead of g_i, and
 * let the shifts learn the local gradients, so the compression variance vanishes at the optimum
 * even on heterogeneous data. alpha = 1/(omega + 1) per layer. For unbiased codecs.
 */
import type { Collective } from '../collective/collective.ts';
import { CodecAggregator } from './codec-aggregator.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { add, addScaled, layerSize, subtract } from './layers.ts';
import { StateKind } from './shared-state.ts';
import type { Codec, LayerShape } from './types.ts';

export class DianaAggregator extends CodecAggregator {
  private readonly alphas: number[];
  /** h_i, local. */
  private own: Float32Array[];
  /** h = mean of h_i, shared. */
  private mean: Float32Array[];

  constructor(codec: Codec, layers: LayerShape[], seed: number) {
    super(`${codec.name}+diana`, codec, layers, seed, StateKind.Diana);
    const omega = codec.omega;
    if (!codec.unbiased || omega === undefined) throw new RangeError(`diana needs an unbiased codec with a known omega, not ${codec.name}`);
    this.alphas = layers.map((layer) => 1 / (omega(layer) + 1));
    this.own = layers.map((layer) => new Float32Array(layerSize(layer)));
    this.mean = layers.map((layer) => new Float32Array(layerSize(layer)));
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    this.begin(grads);
    const diffs = grads.map((g, l) => subtract(g, this.own[l]!));
    const exchanged = await this.exchange(diffs, collective, true);
    const update = this.mean.map((h, l) => add(h, exchanged.mean[l]!));
    const mean = this.mean.map((h, l) => addScaled(h, this.alphas[l]!, exchanged.mean[l]!));
    requireFinite(`${this.name} update`, update);
    requireFinite(`${this.name} mean shift`, mean);
    // An overflow of this member's own h_i alone takes the shared value there, as a joiner does.
    this.own = this.own.map((hi, l) => repairLocal(addScaled(hi, this.alphas[l]!, exchanged.own[l]!), mean[l]));
    this.mean = mean;
    return update;
  }

  /**
   * Every member takes h_i = h, as a joiner does: the mean of the h_i is h again over whoever is
   * present, with no communication, and the learned mean shift is kept (only the members' own
   * deviations h_i - h are relearned). DIANA allows any starting shifts whose mean is h.
   */
  override restart(): void {
    this.own = this.mean.map((h) => h.slice());
  }

  protected override sharedArrays(): Float32Array[] {
    return this.mean;
  }

  /** A joiner takes h_i = h: if the others' h_i averaged to h, the new membership's still do. */
  protected override adoptSharedState(arrays: Float32Array[]): void {
    this.mean = arrays;
    this.own = arrays.map((h) => h.slice());
  }
}
