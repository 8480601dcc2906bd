/**
 * `sync=local` (DiLoCo, Douillard et al. 2023): from the round's start weights, each member runs
 * `inner` steps of the room's optimizer (the inner optimizer, whose state stays with the member)
 * on its own shard, or as many as fit in `roundMs` if that is set; its pseudo-gradient is the start
 * weights minus its local weights. The exchange averages the pseudo-gradients weighted by inner
 * steps (the member hands over steps x pseudo-gradient, weighted-mean.ts) through the room's
 * compressor and error control, and the outer optimizer (outer-optimizer.ts) makes one step. The
 * talk is one all-reduce per `inner` batches.
 */
import type { TrainableModel } from '../../task/trainable-model.ts';
import { abortReason } from '../../deadline.ts';
import { yieldToEventLoop } from '../../yield.ts';
import type { RunConfig } from '../config.ts';
import { hasNonFinite } from '../hash.ts';
import { createOptimizer, type Optimizer } from '../optimizer.ts';
import { fitsAnother, microBatch, type RoundInput, type RoundWork } from './round-work.ts';

export class LocalSteps {
  /** The inner optimizer: local to this member, kept across rounds (as DiLoCo keeps AdamW's state). */
  private readonly inner: Optimizer;

  constructor(config: RunConfig, sizes: number[]) {
    this.inner = createOptimizer(config, sizes);
  }

  async round(input: RoundInput): Promise<RoundWork> {
    const { model, train, shard, config, round, rank, weights, signal, clock, startedAt } = input;
    const began = clock();
    const local = weights.map((w) => w.slice());
    let units = 0;
    let lossSum = 0;
    let zeroed = 0;
    const more = (): boolean => (config.roundMs > 0 ? fitsAnother(clock() - startedAt, clock() - began, units, config.roundMs) : units < config.inner);
    try {
      while (more()) {
        if (signal.aborted) throw abortReason(signal, `round ${round}`);
        model.setWeights(local);
        const { grads, loss } = model.gradient(microBatch(train, shard, config, round, rank, units));
        units++;
        if (hasNonFinite(grads) || !Number.isFinite(loss)) {
          zeroed++; // skip the bad batch's step
        } else {
          lossSum += loss;
          this.inner.apply(local, grads);
        }
        await yieldToEventLoop();
      }
      if (signal.aborted) throw abortReason(signal, `round ${round}`);
    } finally {
      restore(model, weights);
    }
    const sums = weights.map((w, l) => {
      const mine = local[l]!;
      const d = new Float32Array(w.length);
      for (let i = 0; i < d.length; i++) d[i] = units * (w[i]! - mine[i]!);
      return d;
    });
    // Local weights that blew up contribute nothing rather than poison the outer step.
    if (hasNonFinite(sums)) for (const d of sums) d.fill(0);
    const finite = units - zeroed;
    return { sums, count: units, units, loss: finite > 0 ? lossSum / finite : Number.NaN, computeMs: clock() - began, zeroed };
  }
}

/** The model's variables hold the replica's weights again (evaluation and the next round read them). */
function restore(model: TrainableModel, weights: readonly Float32Array[]): void {
  model.setWeights(weights as Float32Array[]);
}
