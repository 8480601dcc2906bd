/**
 * The state every member holds identically, and the one a sync moves from member to member: the
 * step, the weights (mirrored into the model's variables and hashed), the optimizer's state and
 * the codec's shared state.
 */
import type { GradientAggregator } from '../compress/types.ts';
import type { TrainableModel } from '../task/trainable-model.ts';
import type { RunConfig } from './config.ts';
import { hashArrays } from './hash.ts';
import type { Optimizer } from './optimizer.ts';
import { createReplicaOptimizer } from './rounds/round-runner.ts';
import { encodeSnapshot, type Snapshot } from './snapshot.ts';

export class Replica {
  /** Steps completed. */
  step = 0;
  /** Hash of `weights`, equal on every replica at the same step. */
  hash: string;
  private current: Float32Array[];
  private readonly optimizer: Optimizer;

  /** Starts from the seeded initial weights, identical on every member. */
  constructor(private readonly model: TrainableModel, config: RunConfig, private readonly aggregator: GradientAggregator) {
    this.current = model.initialWeights(config.seed);
    model.setWeights(this.current);
    this.hash = hashArrays(this.current);
    // With sync=local this is the outer optimizer (rounds/outer-optimizer.ts).
    this.optimizer = createReplicaOptimizer(config, this.sizes);
  }

  /** The weights (read-only: the optimizer owns their updates). */
  get weights(): readonly Float32Array[] {
    return this.current;
  }

  /** Length of each weight array. */
  get sizes(): number[] {
    return this.current.map((w) => w.length);
  }

  /**
   * Ends a step: applies the averaged update, then counts the step. `null` is a step the
   * aggregator refused as non-finite (NonFiniteError; every aggregator refuses a non-finite
   * update, which the aggregator contract checks). The decision is the same on every replica,
   * since the update has identical bits everywhere, and the step still counts, so the replicas
   * stay in lockstep. Returns false if nothing was applied.
   */
  completeStep(update: Float32Array[] | null, lrScale: number): boolean {
    const applied = update !== null;
    if (applied) this.optimizer.apply(this.current, update, lrScale);
    this.model.setWeights(this.current);
    this.hash = hashArrays(this.current);
    this.step++;
    return applied;
  }

  /**
   * The weights a step with `update` would give, changing nothing: the optimizer steps a copy and
   * gets its state back (an estimate of the next step's weights, see RoundRunner.prefetch).
   */
  preview(update: Float32Array[]): Float32Array[] {
    const state = this.optimizer.exportState();
    const weights = this.current.map((w) => w.slice());
    this.optimizer.apply(weights, update, 1);
    this.optimizer.importState(state);
    return weights;
  }

  /** Everything a member behind needs to continue from here, encoded. */
  snapshot(): Uint8Array {
    return encodeSnapshot({
      step: this.step,
      weights: this.current,
      optimizer: this.optimizer.exportState(),
      codecState: this.aggregator.exportSharedState(),
    });
  }

  /**
   * Continues from another member's snapshot (whose weights have this model's `sizes`). All or
   * nothing: if the optimizer or codec state does not fit (it throws), nothing changed.
   */
  adopt(snapshot: Snapshot): void {
    const before = this.optimizer.exportState();
    this.optimizer.importState(snapshot.optimizer);
    try {
      this.aggregator.importSharedState(snapshot.codecState);
    } catch (err) {
      this.optimizer.importState(before);
      throw err;
    }
    this.current = snapshot.weights;
    this.step = snapshot.step;
    this.model.setWeights(this.current);
    this.hash = hashArrays(this.current);
  }
}
