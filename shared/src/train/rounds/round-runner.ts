/**
 * The session's face of the round modes (`sync=accumulate`, `sync=local`): checks the
 * configuration, runs a round's local work, and keeps it when the exchange fails, so a round
 * redone at the same step from the same weights (a member left, a new epoch) costs the others
 * only the lost member's contribution, not their own work again.
 */
import type { Collective } from '../../collective/collective.ts';
import type { GradientAggregator } from '../../compress/types.ts';
import { ConfigError } from '../../errors.ts';
import type { RunConfig, SyncMode } from '../config.ts';
import { createOptimizer, type Optimizer } from '../optimizer.ts';
import { accumulateRound } from './accumulate.ts';
import { LocalSteps } from './local.ts';
import { NesterovSgd } from './outer-optimizer.ts';
import type { RoundInput, RoundWork } from './round-work.ts';
import { scaled, weightedMean, type WeightedMean } from './weighted-mean.ts';

export type { RoundInput, RoundWork } from './round-work.ts';
export { emptyWork } from './round-work.ts';

/** What a unit of a member's contribution is, by mode (status and the page say it). */
export const ROUND_UNITS: Record<SyncMode, string> = { step: 'steps', accumulate: 'micro-batches', local: 'inner steps' };

/** Throws ConfigError for a round configuration that cannot run. */
export function checkRoundConfig(config: RunConfig): void {
  if (config.sync === 'step') return;
  if (config.sync === 'accumulate' && config.roundMs <= 0) throw new ConfigError('sync=accumulate needs roundMs > 0 (the compute budget of a round)');
  // A member sitting a round out neither sends nor updates its part of a shared mean of local
  // estimates, so that mean would no longer be the mean over the members (sit-out.ts).
  if (config.sync === 'accumulate' && config.staleness === 1 && (config.ef === 'ef21' || config.ef === 'diana')) {
    throw new ConfigError(`sync=accumulate with staleness=1 lets slow members sit rounds out, which ef=${config.ef}'s shared mean of every member's estimate does not allow; use ef=none or ef14`);
  }
}

/**
 * The optimizer the replica holds (its state is shared and travels in snapshots): the room's
 * optimizer, except with `sync=local`, where it is the outer Nesterov SGD.
 */
export function createReplicaOptimizer(config: RunConfig, sizes: number[]): Optimizer {
  return config.sync === 'local' ? new NesterovSgd(sizes, config.outerLr, config.outerMomentum) : createOptimizer(config, sizes);
}

/** This member's own share of a round's update: its sums over its count (its mean pseudo-gradient). */
export function ownUpdate(work: RoundWork): Float32Array[] {
  const scale = work.count > 0 ? 1 / work.count : 0;
  return work.sums.map((sum) => scaled(sum, scale));
}

/** A member sits rounds out once this many of its rounds in a row had units over half the budget. */
const SLOW_ROUNDS_TO_SIT_OUT = 2;

/** A member defers at most this many evaluations in a row (see `evaluateNow`). */
export const MAX_DEFERRED_EVALUATIONS = 4;

export class RoundRunner {
  private readonly local: LocalSteps | undefined;
  /** Mean time of one unit (micro-batch, inner step) in this member's last round, on the round clock. */
  private unitMs = 0;
  /** This member's rounds in a row whose unit took more than half the budget (see `sitsOutNext`). */
  private slowRounds = 0;
  /** How long this member's last evaluation took, on the round clock. */
  private evaluationMs = 0;
  /** Evaluations deferred since the last one. */
  private deferred = 0;
  /** The last round's work while its exchange has not succeeded, with the step and weights it started from. */
  private kept: { round: number; hash: string; work: RoundWork } | undefined;
  /** With overlap (`staleness=1`): the next round's work, computed while this round's exchange travelled. */
  private next: { round: number; work: RoundWork } | undefined;

  constructor(private readonly config: RunConfig, sizes: number[]) {
    checkRoundConfig(config);
    if (config.sync === 'step') throw new ConfigError('sync=step runs without rounds');
    this.local = config.sync === 'local' ? new LocalSteps(config, sizes) : undefined;
  }

  /**
   * The local work of `input.round` from the weights hashed `hash`: computed, or the work kept
   * from a failed attempt at the same round and weights (its `computeMs` is then 0).
   */
  async compute(input: RoundInput, hash: string): Promise<RoundWork> {
    const next = this.next;
    // A round redone after a failed exchange keeps the next round's work for later.
    if (next && next.round <= input.round) this.next = undefined;
    if (next && next.round === input.round) {
      // Computed during the last exchange (overlap): its time was counted there.
      this.kept = { round: input.round, hash, work: next.work };
      return { ...next.work, computeMs: 0 };
    }
    const kept = this.kept;
    if (kept && kept.round === input.round && kept.hash === hash) return { ...kept.work, computeMs: 0 };
    this.kept = undefined;
    const work = await this.work(input);
    this.kept = { round: input.round, hash, work };
    return work;
  }

  /**
   * Overlap (`sync=local`, `staleness=1`): the work of round `input.round`, computed while the
   * current round's exchange travels; compute() hands it out for that round. The mean it waits
   * for is unknown, so the caller starts it eagerly (Kale et al. 2025, "eager updates"): from the
   * weights the outer step would give if the mean were this member's own pseudo-gradient
   * (`ownUpdate`). Every replica stays identical: the members still apply exchanged means only.
   * Resolves with the time it took (0 if already done).
   */
  async prefetch(input: RoundInput): Promise<number> {
    if (this.next?.round === input.round) return 0;
    const work = await this.work(input);
    this.next = { round: input.round, work };
    return work.computeMs;
  }

  private async work(input: RoundInput): Promise<RoundWork> {
    const work = this.local ? await this.local.round(input) : await accumulateRound(input);
    if (work.units > 0) {
      this.unitMs = work.computeMs / work.units;
      this.slowRounds = this.unitMs > this.config.roundMs / 2 ? this.slowRounds + 1 : 0;
    }
    return work;
  }

  /**
   * Whether this member sits the next round out (`sync=accumulate`, `staleness=1`): when one of its
   * micro-batches takes more than half the round's budget, it would hold the others up every
   * round; sitting every other round out, it computes during the round it misses instead. Two
   * such rounds in a row, so that one slow batch (a pause for garbage collection, a busy moment
   * of the machine) does not make a fast member sit out.
   */
  sitsOutNext(loading = false): boolean {
    const { sync, staleness } = this.config;
    return sync === 'accumulate' && staleness === 1 && (loading || this.slowRounds >= SLOW_ROUNDS_TO_SIT_OUT);
  }

  /**
   * Whether to evaluate now, `elapsedMs` into the next round's budget (`roundMs`). Evaluation is
   * the same on every replica, so it must never hold the room back: a member whose budget has no
   * room left for its evaluation and then one unit (a slow device) defers it, at most
   * MAX_DEFERRED_EVALUATIONS times in a row, never the last round's. Without a time budget, always.
   */
  evaluateNow(elapsedMs: number, lastRound: boolean): boolean {
    if (lastRound || this.config.roundMs <= 0 || this.deferred >= MAX_DEFERRED_EVALUATIONS) return true;
    if (elapsedMs + this.evaluationMs + this.unitMs <= this.config.roundMs) return true;
    this.deferred++;
    return false;
  }

  /** An evaluation took `ms` on the round clock. */
  evaluated(ms: number): void {
    this.evaluationMs = ms;
    this.deferred = 0;
  }

  /**
   * The weighted mean of the members' work; the kept work is dropped once the exchange succeeded.
   * A member still `loading` its shard (its work is empty) sits the next round out too.
   */
  async exchange(aggregator: GradientAggregator, work: RoundWork, collective: Collective, loading = false): Promise<WeightedMean> {
    const result = await weightedMean(aggregator, work.sums, work.count, collective, this.sitsOutNext(loading));
    this.kept = undefined;
    return result;
  }

  /** Each member's contribution in units (micro-batches or inner steps), by peer id. */
  contributions(members: readonly string[], counts: readonly number[]): Record<string, number> {
    const per = this.config.sync === 'accumulate' ? this.config.batchSize : 1;
    return Object.fromEntries(members.map((id, rank) => [id, (counts[rank] ?? 0) / per]));
  }
}
