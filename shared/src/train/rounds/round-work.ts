/**
 * What a member computes locally in one round of `sync=accumulate` or `sync=local`, before the
 * exchange: a sum to average and the count that weighs it (weighted-mean.ts).
 */
import { drawBatch, type Examples } from '../../data/example-store.ts';
import type { Dataset } from '../../data/mnist.ts';
import type { TrainableModel } from '../../task/trainable-model.ts';
import { Rng } from '../../rng.ts';
import type { RunConfig } from '../config.ts';

export interface RoundInput {
  model: TrainableModel;
  train: Examples;
  /** This member's training examples (indices into `train`). */
  shard: Int32Array;
  config: RunConfig;
  /** The round (the session's step). */
  round: number;
  rank: number;
  /** The round's start weights (the replica's; read only). */
  weights: readonly Float32Array[];
  /** Aborts the local work between micro-batches (a new epoch, the member closing). */
  signal: AbortSignal;
  /** Milliseconds, for the round's budget (`roundMs`); `computeMs` is measured on it too. */
  clock: () => number;
  /**
   * When the round's budget began on `clock`: the end of the previous exchange, so that what a
   * member does between rounds (applying the update, evaluating) is spent from its budget, not
   * added to the round. A slow member thus starts its one micro-batch late rather than ending it late.
   */
  startedAt: number;
}

export interface RoundWork {
  /** What the weighted mean averages: a gradient sum, or count x pseudo-gradient. */
  sums: Float32Array[];
  /** Its weight: samples (`accumulate`) or inner steps (`local`). */
  count: number;
  /** Micro-batches (`accumulate`) or inner steps (`local`) computed. */
  units: number;
  /** Mean training loss over the round's batches. */
  loss: number;
  computeMs: number;
  /** Batches whose gradient was not finite (contributed zeros). */
  zeroed: number;
}

/** No work: what a member whose shard is still loading contributes (zero samples). */
export function emptyWork(sizes: readonly number[]): RoundWork {
  return { sums: sizes.map((n) => new Float32Array(n)), count: 0, units: 0, loss: Number.NaN, computeMs: 0, zeroed: 0 };
}

/** The `index`-th micro-batch of (`round`, `rank`): `batchSize` examples drawn with replacement from `shard`. */
export function microBatch(train: Examples, shard: Int32Array, config: Pick<RunConfig, 'seed' | 'batchSize'>, round: number, rank: number, index: number): Dataset {
  return drawBatch(train, shard, config.batchSize, Rng.derive(config.seed, 'round-batch', round, rank, index));
}

/**
 * Whether a time-boxed round has room for one more unit: the next one is expected to take the
 * mean of those so far (`unitsMs` over `units`), and must end within `budgetMs` of the round's
 * start, `elapsedMs` ago (the first always runs: at least one per round).
 */
export function fitsAnother(elapsedMs: number, unitsMs: number, units: number, budgetMs: number): boolean {
  return units === 0 || elapsedMs + unitsMs / units <= budgetMs;
}
