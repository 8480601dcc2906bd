/** Compressed averaging without error control (ef=none): the update is the mean of D(C(g_i)). */
import type { Collective } from '../collective/collective.ts';
import { CodecAggregator } from './codec-aggregator.ts';
import { requireFinite } from './finite.ts';
import { StateKind } from './shared-state.ts';
import type { Codec, LayerShape } from './types.ts';

export class PlainAggregator extends CodecAggregator {
  constructor(codec: Codec, layers: LayerShape[], seed: number) {
    super(codec.name, codec, layers, seed, StateKind.Plain);
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    this.begin(grads);
    const { mean } = await this.exchange(grads, collective, false);
    requireFinite(`${this.name} update`, mean);
    return mean;
  }
}
