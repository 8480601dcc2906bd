/**
 * Error feedback (docs/ALGORITHMS.md, EF14): what was not sent is remembered and added to
 * the next gradient. For biased codecs; e_i is local state, so a membership change needs no
 * restart: e_i is this member's own residual whoever the others are.
 */
import type { Collective } from '../collective/collective.ts';
import { CodecAggregator } from './codec-aggregator.ts';
import { repairLocal, requireFinite } from './finite.ts';
import { add, layerSize, subtract } from './layers.ts';
import { StateKind } from './shared-state.ts';
import type { Codec, LayerShape } from './types.ts';

export class Ef14Aggregator extends CodecAggregator {
  private errors: Float32Array[];

  constructor(codec: Codec, layers: LayerShape[], seed: number) {
    super(`${codec.name}+ef14`, codec, layers, seed, StateKind.Ef14);
    this.errors = layers.map((layer) => new Float32Array(layerSize(layer)));
  }

  async aggregate(grads: Float32Array[], collective: Collective): Promise<Float32Array[]> {
    this.begin(grads);
    const corrected = grads.map((g, l) => add(g, this.errors[l]!));
    const { mean, own } = await this.exchange(corrected, collective, true);
    requireFinite(`${this.name} update`, mean);
    this.errors = corrected.map((p, l) => repairLocal(subtract(p, own[l]!)));
    return mean;
  }
}
