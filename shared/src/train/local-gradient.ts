/**
 * A step's local work: its batch, drawn from this member's shard, and the gradient at the
 * current weights, clipped to the room's `clip` norm.
 */
import type { Dataset } from '../data/mnist.ts';
import { drawBatch, type Examples } from '../data/example-store.ts';
import type { TrainableModel } from '../task/trainable-model.ts';
import { Rng } from '../rng.ts';
import { clipGlobalNorm } from './clip.ts';
import type { RunConfig } from './config.ts';
import { hasNonFinite } from './hash.ts';

export interface LocalGradient {
  step: number;
  grads: Float32Array[];
  loss: number;
  /** Time to compute it. */
  ms: number;
  /** The gradient or loss was not finite, so `grads` were replaced by zeros. */
  zeroed: boolean;
}

/** A step's batch: `batchSize` examples drawn with replacement from `shard`, seeded by (seed, step, rank). */
export function sampleBatch(train: Examples, shard: Int32Array, seed: number, batchSize: number, step: number, rank: number): Dataset {
  return drawBatch(train, shard, batchSize, Rng.derive(seed, 'batch', step, rank));
}

/**
 * The gradient of the batch of (`step`, `rank`) at the model's weights, timed from the draw of the
 * batch. A non-finite one is replaced by zeros: a bad local gradient must not poison the others
 * (the caller reports it). With `clip` > 0 its global norm is clipped to `clip` (clip.ts), which
 * bounds what this member contributes.
 */
export function localGradient(
  model: TrainableModel,
  train: Examples,
  shard: Int32Array,
  config: Pick<RunConfig, 'seed' | 'batchSize'> & Partial<Pick<RunConfig, 'clip'>>,
  step: number,
  rank: number,
): LocalGradient {
  const began = performance.now();
  const { grads, loss } = model.gradient(sampleBatch(train, shard, config.seed, config.batchSize, step, rank));
  const zeroed = hasNonFinite(grads) || !Number.isFinite(loss);
  if (zeroed) for (const g of grads) g.fill(0);
  else clipGlobalNorm(grads, config.clip ?? 0);
  return { step, grads, loss, ms: performance.now() - began, zeroed };
}
