/**
 * EF21 (docs/ALGORITHMS.md, EF21): each peer tracks its gradient with g_i and sends only the
 * compressed change C(grad_i - g_i); the mean g of the g_i is shared state. The first step sends
 * the gradients dense to initialise g_i and g. For contractive (biased) codecs.
 */
import type { Collective } from '../collective/collective.ts';
import { CodecAggregator } from './codec-aggregator.ts';
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
    this.own = layers.map((layer) => new Float32Array(layerSize(layer)));
    this.mean = layers.map((layer) => new Float32Array(layerSize(layer)));
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    this.begin(grads);
    if (!this.ready) {
      const sum = await collective.allReduceSum(concat(grads), TAG_DENSE);
      this.mean = split(divide(sum, collective.size), grads.map((g) => g.length));
      this.own = grads.map((g) => g.slice());
      this.ready = true;
      return this.mean.map((g) => g.slice());
    }
    const diffs = grads.map((g, l) => subtract(g, this.own[l]!));
    const exchanged = await this.exchange(diffs, collective, true);
    this.own = this.own.map((gi, l) => add(gi, exchanged.own[l]!));
    this.mean = this.mean.map((g, l) => add(g, exchanged.mean[l]!));
    return this.mean.map((g) => g.slice());
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
}
