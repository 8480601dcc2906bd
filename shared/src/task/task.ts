/**
 * A task is what a room trains: its data and its model. The session sees only what both give it:
 * examples (Dataset or ExampleSource: count, shape, labels, and `gather` turning indices into a
 * batch) and a TrainableModel (weights as Float32Arrays per layer). Everything else stays the
 * core's, the same for every task: a member's shard is cut from the labels (shard.ts), its batch of
 * each step drawn from the shard seeded by (seed, step, rank) (local-gradient.ts), the evaluation
 * set a seeded subset of `evalSize` test examples, and the weights start from the run seed.
 *
 * Every member of a room must run the same task: a model of other layer sizes fails its first
 * exchange with every peer (PeerInputError) and never trains.
 */
import type { Examples } from '../data/example-store.ts';
import type { RunConfig } from '../train/config.ts';
import type { TrainableModel } from './trainable-model.ts';

export interface TaskData {
  train: Examples;
  /** The evaluation set: each evaluation measures accuracy on a seeded subset of `evalSize` of it. */
  test: Examples;
}

/** What a model is built for: the examples' input shape and the number of classes. */
export interface DataShape {
  shape: readonly number[];
  classes: number;
}

/** A tfjs backend that cannot train a task's model, and why (the member picks another, saying so). */
export interface BackendExclusion {
  name: string;
  reason: string;
}

export interface Task {
  /** Shown in status() and logs. */
  readonly name: string;
  /** Names the data: members whose tasks name the same data share one load (the built-in MNIST tasks). */
  readonly dataset: string;
  /** Loads (or opens, for a store that fetches its shard later) the training and evaluation examples, once per member. */
  loadData(signal: AbortSignal): Promise<TaskData>;
  /**
   * A fresh model for the data (called once per session, disposed by the caller). Its initial
   * weights must come from the seed passed to `initialWeights`, the same bits on every replica.
   */
  createModel(data: DataShape, config: RunConfig): TrainableModel;
  /** A backend this model cannot be trained on (tfjs 4.22's wasm has no conv gradient). */
  excludedBackend?(config: RunConfig): BackendExclusion | undefined;
}

/** Whether `value` looks like a Task (a module's export, checked before use). */
export function isTask(value: unknown): value is Task {
  const t = value as Partial<Task> | null;
  return typeof t === 'object' && t !== null && typeof t.name === 'string' && typeof t.dataset === 'string'
    && typeof t.loadData === 'function' && typeof t.createModel === 'function';
}
