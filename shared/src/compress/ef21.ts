/**
 * EF21 (docs/ALGORITHMS.md, EF21): each peer tracks its gradient with g_i and sends only the
 * compressed change C(grad_i - g_i); the mean g of the g_i is shared state. The first step, and
 * the first after every restart, sends the gradients dense to initialise g_i and g. For
 * contractive (biased) codecs.
 */
import type { Collective } from '../collective/collective.ts';
import { CodecAggregator } from './codec-aggregator.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { add, concat, divide, layerSize, split, subtract, TAG_DENSE } from './layers.ts';
import { StateKind } from './shared-state.ts';
import type { Codec, CollectiveBytes, LayerShape } from './types.ts';

export class Ef21Aggregator extends CodecAggregator {
  private ready = false;
  /** g_i, local. */
  private own: Float32Array[];
  /** g = mean of g_i, shared. */
  private mean: Float32Array[];

  constructor(codec: Codec, layers: LayerShape[], seed: number) {
    super(`${codec.name}+ef21`, codec, layers, seed, StateKind.Ef21);
    this.own = this.zeros();
    this.mean = this.zeros();
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    this.begin(grads);
    if (!this.ready) {
      const sum = await collective.allReduceSum(concat(grads), TAG_DENSE);
      const mean = split(divide(sum, collective.size), grads.map((g) => g.length));
      requireFinite(`${this.name} initial mean`, mean);
      this.mean = mean;
      this.own = grads.map((g) => g.slice());
      this.ready = true;
      return this.mean.map((g) => g.slice());
    }
    const diffs = grads.map((g, l) => subtract(g, this.own[l]!));
    const exchanged = await this.exchange(diffs, collective, true);
    const mean = this.mean.map((g, l) => add(g, exchanged.mean[l]!));
    requireFinite(`${this.name} mean`, mean);
    // An overflow of this member's own g_i alone takes the shared value there, as a joiner does.
    this.own = this.own.map((gi, l) => repairLocal(add(gi, exchanged.own[l]!), mean[l]));
    this.mean = mean;
    return this.mean.map((g) => g.slice());
  }

  /**
   * The next step is a dense initialisation again: g_i = grad_i and g = their mean over the
   * members present then, so no offset g - mean g_i survives a membership change.
   */
  override restart(): void {
    this.ready = false;
    this.own = this.zeros();
    this.mean = this.zeros();
  }

  override messageBytes(step: number): CollectiveBytes {
    if (this.ready) return super.messageBytes(step);
    return { allReduce: 4 * this.layers.reduce((s, layer) => s + layerSize(layer), 0), allGather: 0 };
  }

  protected override initialised(): boolean {
    return this.ready;
  }

  protected override sharedArrays(): Float32Array[] {
    return this.mean;
  }

  /** A joiner takes g_i = g: if the others' g_i averaged to g, the new membership's still do. */
  protected override adoptSharedState(arrays: Float32Array[], initialised: boolean): void {
    this.mean = arrays;
    this.own = arrays.map((g) => g.slice());
    this.ready = initialised;
  }

  private zeros(): Float32Array[] {
    return this.layers.map((layer) => new Float32Array(layerSize(layer)));
  }
}
