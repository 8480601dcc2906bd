/**
 * A task is what a room trains: its data and its model. The session sees only what both give it:
 * examples (Dataset or ExampleSource: count, shape, labels, and `gather` turning indices into a
 * batch) and a TrainableModel (weights as Float32Arrays per layer). Everything else stays the
 * core's, the same for every task: a member's shard is cut from the labels (shard.ts), its batch of
 * each step drawn from the shard seeded by (seed, step, rank) (local-gradient.ts), the evaluation
 * set a seeded subset of `evalSize` test examples, and the weights start from the run seed.
 *
 * Every member of a room must run the same task, so the room's configuration names it (the key
 * `task`, `roomTaskName`; empty for the built-in tasks, which the key `model` names): a member
 * whose task is another refuses the room before it trains.
 */
import { ConfigError } from '../errors.ts';
import type { Examples } from '../data/example-store.ts';
import { TASK_NAME, type RunConfig } from '../train/config.ts';
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
  /** Shown in status() and logs, and the room key `task` (lower case, digits, `.`, `_`, `-`). */
  readonly name: string;
  /** Only the built-in MNIST tasks, which the room key `model` names instead of `task`. */
  readonly builtin?: boolean;
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

/** The room key `task` of a room training `task`: its name, or empty for a built-in task. */
export function roomTaskName(task: Task): string {
  if (task.builtin) return '';
  if (task.name === '' || !TASK_NAME.test(task.name)) throw new ConfigError(`a task's name is lower-case letters, digits, '.', '_' and '-' (at most 64), got ${JSON.stringify(task.name.slice(0, 64))}`);
  return task.name;
}
