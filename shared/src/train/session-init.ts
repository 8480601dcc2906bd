/**
 * What a TrainingSession is given: who it is, the run configuration, its model, data and
 * messenger, the hooks into its surroundings (signaling, UI) and its time limits.
 */
import type { Examples } from '../data/example-store.ts';
import type { TrainableModel } from '../task/trainable-model.ts';
import type { Messenger } from '../wire/messenger.ts';
import type { RunConfig } from './config.ts';
import type { TrainingSession } from './session.ts';

export interface SessionInit {
  selfId: string;
  config: RunConfig;
  messenger: Messenger;
  model: TrainableModel;
  /** All in memory, or a store that fetches the shard and the evaluation subset as they are assigned. */
  train: Examples;
  test: Examples;
  /**
   * `train` is this member's own data (chosen in its tab, data/local-data.ts): its shard is all of
   * it, whatever its rank, instead of its piece of the task's training set. @default false
   */
  ownData?: boolean;
  /** Opens channels to every member; resolves when all are open, rejects by the signal. */
  connect(members: string[], signal: AbortSignal): Promise<void>;
  /**
   * Asks the signaling server for a new epoch after a step of `epoch` failed, naming the peer at
   * fault if known. An `epoch` older than the current one is a late blame: a vote, not a request.
   */
  requestNewEpoch?(suspect: string | undefined, epoch: number): void;
  /** Whether `peerId` is an observer of the room (served the state on request, state-serve.ts). */
  isObserver?(peerId: string): boolean;
  /** Called after every step and state change. */
  onUpdate?(session: TrainingSession): void;
  /**
   * Ceiling of a step's deadline. The deadline adapts to recent steps (five times the median
   * plus two seconds, at least `minStepTimeoutMs`); the first step after a sync gets the ceiling,
   * since it may include a newcomer's warm-up (step-deadline.ts). @default 30 s
   */
  stepTimeoutMs?: number;
  /** Floor of a step's deadline. @default 5 s */
  minStepTimeoutMs?: number;
  /** Deadline for channels to open and hellos to arrive. @default 20 s */
  syncTimeoutMs?: number;
  /** The clock a round's compute budget (`roundMs`) is measured on, in ms. @default performance.now */
  clock?: () => number;
  /** Deadline for fetching the examples a new shard adds (a slow link may need more than the hello). @default 120 s */
  dataTimeoutMs?: number;
  /** With `sync=accumulate`: how long the sync waits for the shard before the member trains with nothing while it loads. @default 3 s */
  shardGraceMs?: number;
}
