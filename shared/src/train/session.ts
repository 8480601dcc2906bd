/**
 * One worker's training loop, the same in a tab and in a Node worker. Data flows one way:
 * membership view -> sync (agree on the step, pull state if behind) -> local gradient ->
 * aggregator (compress + collectives) -> optimizer -> next step.
 *
 * Membership: the signaling server numbers each membership with an epoch. A new epoch aborts
 * whatever step is under way (AbortedError: its collectives reject, nothing is applied), then
 * every member says hello (its step and weights hash); members holding another state than the
 * majority's fetch it, verified, from the lowest-id member holding it (state-sync.ts), and every member
 * restarts the aggregator's cross-member state (EF21's and DIANA's means). So a late joiner, a
 * peer whose step was cut short, and a diverged replica are all repaired by the same mechanism,
 * and no step ever mixes two epochs.
 */
import { createAggregator } from '../compress/index.ts';
import type { GradientAggregator } from '../compress/types.ts';
import { RingCollective } from '../collective/ring-collective.ts';
import { gather, hold, type Examples } from '../data/example-store.ts';
import { deadline } from '../deadline.ts';
import { DivergenceError, errorMessage, isRecoverable, PeerInputError, suspectOf, TimeoutError } from '../errors.ts';
import type { RoundStatus, SessionEvent, StepRecord } from '../protocol/status.ts';
import { Rng } from '../rng.ts';
import { MessageKind } from '../wire/frame.ts';
import { yieldToEventLoop } from '../yield.ts';
import { messageValueBound } from './clip.ts';
import type { RunConfig } from './config.ts';
import { localGradient, type LocalGradient } from './local-gradient.ts';
import { describeChange, Membership, type MembershipView } from './membership.ts';
import { findDivergence } from './replica-check.ts';
import { Replica } from './replica.ts';
import { checkRoundConfig, emptyWork, ownUpdate, RoundRunner, type RoundInput, type RoundWork } from './rounds/round-runner.ts';
import { roundStatus } from './rounds/round-status.ts';
import { decodeOutcome, encodeOutcome, sittingOut, type RoundOutcome } from './rounds/sit-out.ts';
import { nothingContributed, type WeightedMean } from './rounds/weighted-mean.ts';
import { assignShard } from './shard.ts';
import type { SessionInit } from './session-init.ts';
import { StateServer } from './state-serve.ts';
import { agreeOnState } from './state-sync.ts';
import { DEFAULT_STEP_CEILING_MS, DEFAULT_STEP_FLOOR_MS, stepDeadlineMs } from './step-deadline.ts';
import { StepMeter } from './step-meter.ts';
import { TimedCollective } from './timed-collective.ts';

export type { MembershipView } from './membership.ts';
export type { SessionInit } from './session-init.ts';
export { chooseSource, type Hello } from './state-sync.ts';

export type SessionState = 'connecting' | 'training' | 'done' | 'error';

const TEST_SEED_PURPOSE = 'test-subset';

/** The room's seeded evaluation subset of `testCount` test examples: the same on every member (and observer). */
export function evaluationSubset(config: RunConfig, testCount: number): Int32Array {
  return Int32Array.from(Rng.derive(config.seed, TEST_SEED_PURPOSE).sample(testCount, Math.min(config.evalSize, testCount)));
}
const DEFAULT_DATA_TIMEOUT_MS = 120_000;
/**
 * How long a sync with `sync=accumulate` waits for the member's shard after the hellos before it
 * trains with nothing meanwhile: enough for a fast member's shard, which loads during the
 * connections, so that a whole room of members just joined does not run rounds without data.
 */
const DEFAULT_SHARD_GRACE_MS = 3_000;

/** Whether `promise` resolves within `ms` (rejects as it does, if it rejects first). */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A step the aggregator refused as non-finite (its update or shared state would hold NaN or
 * Infinity; it committed nothing) resolves to null: every replica refuses the same step, which
 * then counts without being applied. Any other error stays an error.
 */
function refusedAsNonFinite(err: unknown): null {
  if ((err as { name?: unknown } | null)?.name === 'NonFiniteError') return null;
  throw err;
}
/**
 * A connect cut short by the next epoch after this share of the sync deadline blames the member
 * whose channel still had not opened, as the deadline would have a moment later: the next epoch
 * usually comes from the first members whose deadlines fired, and unless the others vote too, a
 * member that never connects is never blamed by most of the room. Cuts before it blame nobody (a
 * join or a leave early in the sync; honest channels open within seconds).
 */
const LATE_CUT_SHARE = 0.5;

/** `err` of a connect that waited `waitedMs` of `syncMs`: a TimeoutError naming the member still awaited if the cut came late. */
function blameLateCut(err: unknown, waitedMs: number, syncMs: number): unknown {
  const e = err as { name?: unknown; message?: unknown; waitingFor?: unknown } | null;
  if (e?.name !== 'AbortedError' || typeof e.waitingFor !== 'string' || waitedMs < LATE_CUT_SHARE * syncMs) return err;
  return new TimeoutError(`${String(e.message)} (cut short after ${waitedMs} ms)`, e.waitingFor);
}
/** How long a member that refused a peer's input waits for the others to see it too before it asks for a new epoch. */
const PEER_INPUT_GRACE_MS = 500;
/** A round's weighted mean (null: refused as non-finite) and the time its collectives waited. */
type RoundExchange = { result: WeightedMean | null; waitedMs: number };
/** A step's exchange, whatever the mode: the update to apply and what the step record needs. */
interface Exchanged {
  /** null: nothing to apply (refused as non-finite, or `empty`). */
  update: Float32Array[] | null;
  /** A round with no samples from anyone (rounds/weighted-mean.ts nothingContributed). */
  empty?: boolean;
  lrScale: number;
  loss: number;
  times: { computeMs: number; prefetchMs: number; waitedMs: number };
  contributions?: Record<string, number>;
}

/** The session's own list of events is cut to the most recent this many. */
const MAX_EVENTS = 500;

/**
 * Two-shot owners' shares for a round: each member's contribution to the last round, which every
 * member of the epoch learnt with the same bits, so a slow member owns little of the summing and
 * sending back.
 */
function ownerShares(participants: readonly string[], contributions: Record<string, number>): number[] {
  return participants.map((id) => Math.round(contributions[id] ?? 0));
}

export class TrainingSession {
  state: SessionState = 'connecting';
  error: string | null = null;
  loss: number | null = null;
  testAccuracy: number | null = null;
  /** One record per completed step: bounded by `config.steps`, read whole by `history()`. */
  readonly history: StepRecord[] = [];
  readonly events: SessionEvent[] = [];
  /** How long the last recovery took, from the failed step to the next completed one. */
  lastRecoveryMs: number | null = null;

  private readonly aggregator: GradientAggregator;
  /** The round modes' runner; undefined with `sync=step`. */
  private readonly rounds: RoundRunner | undefined;
  /** When the last round's exchange ended (the round clock): the next round's budget runs from it. */
  private lastExchangeEnd: number | undefined;
  /** The round clock (`init.clock`): round budgets and the time evaluation takes. */
  private readonly clock: () => number;
  private readonly replica: Replica;
  /** The seeded evaluation subset of the test set. */
  private readonly testIndices: Int32Array;
  private shard: Int32Array = new Int32Array(0);
  private readonly membership = new Membership();
  private readonly stateServer: StateServer;
  private started = false;
  private stopped = false;
  private syncedEpoch = -1;
  /** When the step under way first failed; cleared by the next completed step. */
  private failedAt: number | undefined;
  /** With staleness 1: the next step's gradient, computed while this step's update travelled. */
  private prefetched: LocalGradient | undefined;
  /** The first step after a sync gets the ceiling deadline. */
  private freshSync = true;
  /** Who sits out round `step` of `epoch` (`sync=accumulate`, `staleness=1`; rounds/sit-out.ts). */
  private sitOut: { epoch: number; step: number; members: Set<string> } | undefined;
  /** sync=accumulate: the shard is still loading after the sync (with the error, if its fetch failed). */
  private shardLoading: { error?: unknown } | undefined;
  /** The exchange of round `round` of `epoch`, started by this member as it took the outcome of a round it sat out. */
  private early: { epoch: number; round: number; work: RoundWork; exchanged: Promise<RoundExchange> } | undefined;

  constructor(private readonly init: SessionInit) {
    const { config, model } = init;
    checkRoundConfig(config);
    this.aggregator = createAggregator(config, model.layers);
    this.replica = new Replica(model, config, this.aggregator);
    this.rounds = config.sync === 'step' ? undefined : new RoundRunner(config, this.replica.sizes);
    this.clock = init.clock ?? (() => performance.now());
    this.testIndices = evaluationSubset(config, init.test.count);
    this.stateServer = new StateServer(init.messenger, this.replica, (err, to) => this.note('peer-input', `state for ${to.slice(0, 8)}: ${errorMessage(err)}`), (id) => init.isObserver?.(id) ?? false);
  }

  /** Steps completed. */
  get step(): number {
    return this.replica.step;
  }

  /** Hash of the weights: equal on every replica at the same step. */
  get weightsHash(): string {
    return this.replica.hash;
  }

  /** The weights as trained, one array per layer (read them; only the optimizer writes). */
  get weights(): readonly Float32Array[] {
    return this.replica.weights;
  }

  get config(): RunConfig {
    return this.init.config;
  }

  get compressorName(): string {
    return this.aggregator.name;
  }

  /** Bytes this peer sends per step with the current membership, by the codec's declaration. */
  get declaredBytesPerStep(): number {
    return this.aggregator.bytesPerStep(this.view?.members.length ?? 1);
  }

  /** How many times fewer bytes than an uncompressed (fp32) ring all-reduce, or null alone. */
  get compressionRatio(): number | null {
    const peers = this.view?.members.length ?? 1;
    const fp32 = ((2 * (peers - 1)) / peers) * 4 * this.init.model.size;
    const sent = this.declaredBytesPerStep;
    return peers > 1 && sent > 0 ? fp32 / sent : null;
  }

  /** The round mode, the round, the members' last contributions and the share of time waiting. */
  get roundStatus(): RoundStatus {
    const out = this.sitOut?.step === this.step ? [...this.sitOut.members] : [];
    return roundStatus(this.init.config, this.step, this.history, out, this.shardLoading !== undefined);
  }

  /** The membership this session trains in (members sorted). */
  get view(): MembershipView | undefined {
    return this.membership.view;
  }

  /** A new membership from the signaling server: aborts the step under way if the epoch moved. */
  setView(view: MembershipView): void {
    const before = this.membership.update(view);
    if (before === null) return;
    // Keep the new epoch's frames from now on (a peer may start it before our loop does), of any
    // step: a step cut short by a leave may have completed on some members only, and those behind
    // (whose state the room may adopt) start the new epoch's ring at a lower step than ours.
    this.init.messenger.advance(view.epoch, 0, this.init.config.steps);
    this.note('membership', describeChange(before, this.membership.view!.members, view.epoch));
    this.init.onUpdate?.(this);
  }

  stop(): void {
    this.stopped = true;
    this.membership.stop();
  }

  dispose(): void {
    this.stop();
    this.aggregator.dispose();
  }

  /**
   * Trains until `config.steps` (state `done`) or stop(); never throws for recoverable network
   * trouble. A finished member then stays in the room's epochs until stop() (stayFinished).
   */
  async run(): Promise<void> {
    await this.trainUntil(() => this.step >= this.init.config.steps);
    if (this.state === 'done') void this.stayFinished();
  }

  /**
   * After its last step a member still syncs every new epoch, as long as it is a member: a member
   * whose last step failed (the ring completed on some members only) catches up from its state,
   * and if most of the room never completed that step, the sync takes this member back to train
   * it again with them. Without it, such a member would wait for a hello nobody sends.
   */
  private async stayFinished(): Promise<void> {
    while (!this.stopped && this.state === 'done') {
      if (this.syncedEpoch === this.view?.epoch) await this.membership.next();
      await this.trainUntil(() => this.step >= this.init.config.steps && this.syncedEpoch === this.view?.epoch);
    }
  }

  /** Syncs and trains, epoch after epoch, until `finished()` or stop(); then state `done` (or `error`). */
  private async trainUntil(finished: () => boolean): Promise<void> {
    const { config } = this.init;
    try {
      while (!finished() && !this.stopped) {
        const view = this.view;
        if (!view || (!this.started && view.members.length < config.workers)) {
          this.state = 'connecting';
          await this.membership.next(60_000);
          continue;
        }
        this.started = true;
        const signal = this.membership.signal;
        const began = Date.now();
        try {
          if (this.syncedEpoch !== view.epoch) {
            await this.sync(view, signal);
            this.syncedEpoch = view.epoch;
            this.freshSync = true;
            this.note('synced', `epoch ${view.epoch}: ${view.members.length} peers at step ${this.step}`, Date.now() - began);
          }
          if (this.step >= config.steps) continue;
          this.state = 'training';
          await this.trainStep(view, signal);
        } catch (err) {
          if (this.stopped) break;
          if (!isRecoverable(err)) throw err;
          this.failedAt ??= Date.now();
          this.prefetched = undefined;
          this.early = undefined;
          this.note('step-aborted', `step ${this.step} in epoch ${view.epoch}: ${errorMessage(err)}`);
          this.syncedEpoch = -1;
          // Bad input reaches every member it was sent to about now: a moment's grace lets them
          // fail and blame in this same epoch, instead of one fast member churning epochs alone.
          if (this.view === view && (err as Error).name === 'PeerInputError') await this.membership.next(PEER_INPUT_GRACE_MS);
          if (this.view === view) {
            // Nobody told us the membership changed: ask for a fresh epoch and wait for it.
            this.init.requestNewEpoch?.(suspectOf(err), view.epoch);
            await this.membership.next(10_000);
          } else if (suspectOf(err) !== undefined) {
            // The epoch moved on as we found the fault: our blame still counts for that epoch.
            this.init.requestNewEpoch?.(suspectOf(err), view.epoch);
          }
        }
        await yieldToEventLoop();
      }
      if (!this.stopped && this.state !== 'done') {
        this.state = 'done';
        this.note('done', `finished ${this.step} steps`);
      }
    } catch (err) {
      this.state = 'error';
      this.error = errorMessage(err);
      this.note('error', this.error);
    } finally {
      this.init.onUpdate?.(this);
    }
  }

  private note(kind: SessionEvent['kind'], message: string, ms?: number): void {
    this.events.push({ time: Date.now(), kind, message, ...(ms !== undefined ? { ms } : {}) });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  /**
   * Runs `work` with a (timed) collective of this step, bound to the step's deadline; clearing the
   * deadline when the work settles releases whatever it still waits on. The one place a step's
   * collectives are made: the training step and the replica check.
   */
  private async withCollective<T>(view: MembershipView, signal: AbortSignal, what: string, work: (c: TimedCollective) => Promise<T>, shares?: readonly number[], members = view.members, step = this.step): Promise<{ result: T; waitedMs: number }> {
    const limit = this.stepDeadline(what, signal);
    try {
      const ring = new RingCollective({ allReduce: this.init.config.collective, messenger: this.init.messenger, members, epoch: view.epoch, step, signal: limit.signal, codec: this.aggregator.codecId, maxAbs: messageValueBound(this.init.config), ...(shares ? { shares } : {}) });
      const collective = new TimedCollective(ring);
      return { result: await work(collective), waitedMs: collective.waitedMs };
    } finally {
      limit.clear();
    }
  }

  /** Agree on the step with every member of the epoch; fetch the state if behind or diverged. */
  private async sync(view: MembershipView, signal: AbortSignal): Promise<void> {
    const { messenger, selfId, train, config } = this.init;
    const syncMs = this.init.syncTimeoutMs ?? 20_000;
    const limit = deadline(syncMs, `sync of epoch ${view.epoch}`, signal);
    // The shard depends only on the members, so it loads while the connections and the hellos
    // take their time (on a slow device, seconds each) instead of after them.
    const shard = this.init.ownData ? Int32Array.from({ length: train.count }, (_, i) => i) : assignShard(config, train.labels, train.classes, view.members.indexOf(selfId), view.members.length);
    const holdingTest = this.holdData(this.init.test, this.testIndices, signal);
    const holdingShard = this.holdData(train, shard, signal);
    // Awaited below; should the sync fail first, the next one holds what this one fetched.
    holdingTest.catch(() => undefined);
    holdingShard.catch(() => undefined);
    try {
      // Until the hellos say where the room is, frames of any step of the run are kept.
      messenger.advance(view.epoch, 0, config.steps);
      const connecting = Date.now();
      await this.init.connect(view.members, limit.signal).catch((err: unknown) => {
        throw blameLateCut(err, Date.now() - connecting, syncMs);
      });
      const { adopted, refused } = await agreeOnState(messenger, selfId, view, this.replica, limit.signal, { lastStep: config.steps, server: this.stateServer });
      if (adopted) {
        this.note('state-received', `state of step ${adopted.step} from ${adopted.source.slice(0, 8)} (${adopted.bytes} bytes)`, adopted.ms);
        // A state behind ours (the room never completed a step we did) ends our records past it:
        // those steps are no longer this replica's, and the room trains them again.
        const past = this.history.findIndex((r) => r.step > adopted.step);
        if (past >= 0) this.history.splice(past);
      }
      // Every member, after every sync: the members or a member's state may have changed, so the
      // state shared across members (EF21's g, DIANA's h) is re-established (compress/types.ts).
      this.aggregator.restart();
      // A member whose hello or state we refused is blamed like a silent one: this epoch fails.
      for (const e of refused) this.note('peer-input', errorMessage(e));
      if (refused.length > 0) throw new PeerInputError(`refused the hello or state of ${refused.map((e) => e.suspect.slice(0, 8)).join(', ')}`, refused[0]!.suspect);
      await holdingTest;
      this.shard = shard;
      // With sync=accumulate a member whose shard is still loading after a grace (a slow device, a
      // slow link) takes part with nothing rather than hold the room's first rounds up: a round's
      // work is any number of samples, none included.
      if (config.sync !== 'accumulate') await holdingShard;
      else if (!(await settlesWithin(holdingShard, this.init.shardGraceMs ?? DEFAULT_SHARD_GRACE_MS))) this.loadInBackground(holdingShard);
      if (this.step === 0 && this.history.length === 0 && this.testAccuracy === null) this.evaluate();
      messenger.advance(view.epoch, this.step);
    } finally {
      limit.clear();
    }
  }

  /**
   * Holds `indices` of `data` (a store fetches only what it lacks and drops the rest), under a
   * deadline of its own: on a slow link the download may outlast the hello's.
   */
  private async holdData(data: Examples, indices: Int32Array, signal: AbortSignal): Promise<void> {
    const what = data === this.init.test ? 'the test data' : 'the training data';
    const limit = deadline(this.init.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS, `fetching ${what}`, signal);
    try {
      await hold(data, indices, limit.signal);
    } finally {
      limit.clear();
    }
  }

  /** Marks the shard as loading until `holding` resolves; a failure fails the next round (and so brings a new sync). */
  private loadInBackground(holding: Promise<void>): void {
    const pending: { error?: unknown } = {};
    this.shardLoading = pending;
    const since = this.step;
    holding.then(
      () => {
        if (this.shardLoading !== pending) return;
        this.shardLoading = undefined;
        this.note('data', `training shard held at round ${this.step} (loading since round ${since}): contributing from the next round this member computes`);
      },
      (err: unknown) => {
        pending.error = err;
      },
    );
  }

  private async trainStep(view: MembershipView, signal: AbortSignal): Promise<void> {
    const { config, messenger } = this.init;
    const meter = new StepMeter(messenger.stats);
    const done = this.rounds ? await this.exchangeRound(this.rounds, view, signal, meter) : await this.exchangeStep(view, signal, meter);
    if (!this.replica.completeStep(done.update, done.lrScale) && !done.empty) this.note('nonfinite', `non-finite update at step ${this.step - 1}; not applied`);
    this.loss = done.loss;
    this.freshSync = false;
    messenger.advance(view.epoch, this.step);
    const due = this.step % config.evalEvery === 0 || this.step === config.steps;
    const measured = due && (!this.rounds || this.rounds.evaluateNow(this.clock() - (this.lastExchangeEnd ?? this.clock()), this.step === config.steps));
    if (measured) {
      const began = this.clock();
      this.evaluate();
      this.rounds?.evaluated(this.clock() - began);
    }
    const accuracy = measured && this.testAccuracy !== null ? { testAccuracy: this.testAccuracy } : {};
    const fields = { step: this.step, epoch: view.epoch, peers: view.members.length, loss: done.loss, weightsHash: this.weightsHash, ...accuracy };
    // The replica check belongs to the step it checks: its wait (on the slowest member's
    // evaluation, when both fall on one step) is the step's communication, not time between steps.
    let checkMs = 0;
    try {
      if (config.checkEvery > 0 && this.step % config.checkEvery === 0) checkMs = await this.checkReplicas(view, signal);
    } finally {
      const record = meter.record(fields, { ...done.times, checkMs });
      this.history.push(done.contributions ? { ...record, contributions: done.contributions } : record);
    }
    if (this.failedAt !== undefined) {
      this.lastRecoveryMs = Date.now() - this.failedAt;
      this.note('recovered', `training again at step ${this.step} with ${view.members.length} peers`, this.lastRecoveryMs);
      this.failedAt = undefined;
    }
    this.init.onUpdate?.(this);
  }

  /** A step's deadline: from the recent steps' times, the ceiling on a step after a sync (step-deadline.ts). */
  private stepDeadline(what: string, signal: AbortSignal): ReturnType<typeof deadline> {
    const limits = { ceilingMs: this.init.stepTimeoutMs ?? DEFAULT_STEP_CEILING_MS, floorMs: this.init.minStepTimeoutMs ?? DEFAULT_STEP_FLOOR_MS };
    return deadline(stepDeadlineMs(this.history, this.freshSync, limits), what, signal);
  }

  /** `sync=step`: one batch's gradient, averaged (with staleness 1, the next one computed meanwhile). */
  private async exchangeStep(view: MembershipView, signal: AbortSignal, meter: StepMeter): Promise<Exchanged> {
    const { config, selfId } = this.init;
    const rank = view.members.indexOf(selfId);
    const local = this.prefetched?.step === this.step ? this.prefetched : this.localGradient(this.step, rank);
    this.prefetched = undefined;
    let prefetchMs = 0;
    meter.exchangeStarts();
    const { result: update, waitedMs } = await this.withCollective(view, signal, `step ${this.step}`, (collective) => {
      const pending = this.aggregator.aggregate(local.grads, collective).catch(refusedAsNonFinite);
      if (config.staleness === 1 && this.step + 1 < config.steps) {
        // Overlap: the next gradient is computed at the current weights while this update travels.
        pending.catch(() => undefined);
        this.prefetched = this.localGradient(this.step + 1, rank);
        prefetchMs = this.prefetched.ms;
      }
      return pending;
    });
    meter.exchangeEnds();
    return { update, lrScale: 1 / (1 + config.staleness), loss: local.loss, times: { computeMs: local.ms, prefetchMs, waitedMs } };
  }

  /** `sync=accumulate` or `sync=local`: a round's local work, then its weighted mean (train/rounds/). */
  private async exchangeRound(rounds: RoundRunner, view: MembershipView, signal: AbortSignal, meter: StepMeter): Promise<Exchanged> {
    const { model, train, config, selfId } = this.init;
    const clock = this.clock;
    // The budget runs from the end of the last exchange, which ends at about the same time on every
    // member; after a sync there is none to go by.
    const startedAt = this.freshSync || this.lastExchangeEnd === undefined ? clock() : this.lastExchangeEnd;
    const input = { model, train, shard: this.shard, config, round: this.step, rank: view.members.indexOf(selfId), weights: this.replica.weights, signal, clock, startedAt };
    if (this.shardLoading?.error !== undefined) throw this.shardLoading.error;
    const loading = this.shardLoading !== undefined;
    const out = this.sitOut?.epoch === view.epoch && this.sitOut.step === this.step && !this.freshSync ? this.sitOut.members : new Set<string>();
    const participants = view.members.filter((id) => !out.has(id));
    if (out.has(selfId)) return this.sitRoundOut(rounds, view, signal, meter, input, participants[0]!);
    const early = this.early?.epoch === view.epoch && this.early.round === this.step ? this.early : undefined;
    this.early = undefined;
    const work = early?.work ?? (loading ? emptyWork(this.replica.sizes) : await rounds.compute(input, this.weightsHash));
    if (work.zeroed > 0) this.note('nonfinite', `${work.zeroed} non-finite batches in round ${this.step}; contributed zeros`);
    meter.exchangeStarts();
    let prefetching: Promise<number> | undefined;
    const exchange = (c: TimedCollective): Promise<WeightedMean | null> => {
      const pending = rounds.exchange(this.aggregator, work, c, loading).catch(refusedAsNonFinite);
      // Overlap (sync=local, staleness 1): the next round's work runs while this sum travels, from
      // the weights this member's own contribution alone would give.
      if (config.sync === 'local' && config.staleness === 1 && this.step + 1 < config.steps) {
        prefetching ??= rounds.prefetch({ ...input, round: this.step + 1, weights: this.replica.preview(ownUpdate(work)), startedAt: clock() });
      }
      return pending;
    };
    let prefetchMs = 0;
    let exchanged: RoundExchange;
    try {
      exchanged = early ? await early.exchanged : await this.withCollective(view, signal, `round ${this.step}`, exchange, this.lastShares(view, participants), participants);
    } finally {
      // The model holds the replica's weights again before anything else reads or changes them;
      // a prefetch cut short (the epoch ended) is simply computed again.
      if (prefetching) prefetchMs = await prefetching.catch(() => 0);
    }
    const { result, waitedMs } = exchanged;
    this.lastExchangeEnd = clock();
    meter.exchangeEnds();
    if (!result) {
      // Refused as non-finite on every member: those sitting the round out count it unapplied too.
      if (out.size > 0 && participants[0] === selfId) this.forwardOutcome(view, [...out], { update: null, counts: view.members.map(() => 0), sitsOutNext: view.members.map(() => false), sharedState: this.aggregator.exportSharedState() });
      return { update: null, lrScale: 1, loss: work.loss, times: { computeMs: work.computeMs, prefetchMs, waitedMs } };
    }
    // The round's outcome over every member of the epoch: those sitting it out counted 0.
    const byMember = (values: readonly number[]): number[] => view.members.map((id) => values[participants.indexOf(id)] ?? 0);
    const counts = byMember(result.counts);
    const sitsOutNext = byMember(result.sitsOutNext.map(Number)).map(Boolean);
    this.sitOut = { epoch: view.epoch, step: this.step + 1, members: sittingOut(view.members, sitsOutNext) };
    // The first member taking part hands the outcome to those sitting this round out.
    if (out.size > 0 && participants[0] === selfId) this.forwardOutcome(view, [...out], { update: result.update, counts, sitsOutNext, sharedState: this.aggregator.exportSharedState() });
    const empty = nothingContributed(counts);
    return { update: empty ? null : result.update, empty, lrScale: 1, loss: work.loss, times: { computeMs: work.computeMs, prefetchMs, waitedMs }, contributions: rounds.contributions(view.members, counts) };
  }

  /**
   * A round this member sits out (too slow for it, rounds/sit-out.ts): it computes its next round's
   * work from the weights it holds meanwhile, then takes the round's outcome from `forwarder`
   * under the step's deadline, and makes the same step as the others with the same bits.
   */
  private async sitRoundOut(rounds: RoundRunner, view: MembershipView, signal: AbortSignal, meter: StepMeter, input: RoundInput, forwarder: string): Promise<Exchanged> {
    meter.exchangeStarts();
    // Still loading its shard, it has nothing to compute: it takes part in the next round with nothing.
    const ready = this.shardLoading === undefined;
    const prefetchMs = ready && this.step + 1 < this.init.config.steps ? await rounds.prefetch({ ...input, round: this.step + 1 }) : 0;
    const limit = this.stepDeadline(`round ${this.step}'s outcome from ${forwarder.slice(0, 8)}`, signal);
    const began = performance.now();
    let outcome: RoundOutcome;
    try {
      const message = await this.init.messenger.receive(forwarder, { kind: MessageKind.RoundUpdate, codec: 0, tag: 0, epoch: view.epoch, step: this.step, seq: 0 }, limit.signal);
      outcome = decodeOutcome(message.payload, view.members.length, this.replica.sizes);
      this.aggregator.importSharedState(outcome.sharedState);
    } catch (err) {
      const name = (err as Error | null)?.name;
      if (name === 'TimeoutError') throw new TimeoutError(`${(err as Error).message} (suspect ${forwarder.slice(0, 8)})`, forwarder);
      if (name === 'WireFormatError') throw new PeerInputError(`round ${this.step}'s outcome from ${forwarder.slice(0, 8)}: ${(err as Error).message}`, forwarder);
      throw err;
    } finally {
      limit.clear();
    }
    const waitedMs = performance.now() - began;
    this.sitOut = { epoch: view.epoch, step: this.step + 1, members: sittingOut(view.members, outcome.sitsOutNext) };
    // A refused round records no contributions, here as on the members who took part.
    const contributions = outcome.update ? rounds.contributions(view.members, outcome.counts) : undefined;
    if (this.step + 1 < this.init.config.steps) await this.startEarly(rounds, view, signal, ready ? input : undefined, contributions);
    this.lastExchangeEnd = this.clock();
    meter.exchangeEnds();
    // The same decision as the members who took part, from the same counts.
    const empty = outcome.update !== null && nothingContributed(outcome.counts);
    const done = { update: empty ? null : outcome.update, empty, lrScale: 1, loss: this.loss ?? Number.NaN, times: { computeMs: 0, prefetchMs, waitedMs } };
    return contributions ? { ...done, contributions } : done;
  }

  /**
   * Starts the next round's exchange as soon as a round sat out is over, before its update is
   * applied: this member's work for it is already computed (from the weights it held, one round
   * stale) and the codec's shared state is the outcome's, so the others need not wait while a slow
   * device applies the update, evaluates and redraws. exchangeRound then takes it up.
   */
  private async startEarly(rounds: RoundRunner, view: MembershipView, signal: AbortSignal, input: RoundInput | undefined, contributions: Record<string, number> | undefined): Promise<void> {
    const round = this.step + 1;
    const out = this.sitOut?.members ?? new Set<string>();
    if (out.has(this.init.selfId)) return;
    const participants = view.members.filter((id) => !out.has(id));
    // Without input (its shard was loading as the round began) it takes part with nothing, and sits the next out.
    const work = input ? await rounds.compute({ ...input, round }, this.weightsHash) : emptyWork(this.replica.sizes);
    const exchanged = this.withCollective(view, signal, `round ${round}`, (c) => rounds.exchange(this.aggregator, work, c, !input).catch(refusedAsNonFinite), contributions && ownerShares(participants, contributions), participants, round);
    // Awaited by exchangeRound; should the epoch end first, nobody does.
    exchanged.catch(() => undefined);
    this.early = { epoch: view.epoch, round, work, exchanged };
  }

  /** Sends a round's outcome to the members who sat it out; one gone is the next epoch's business. */
  private forwardOutcome(view: MembershipView, to: readonly string[], outcome: RoundOutcome): void {
    const payload = encodeOutcome(outcome);
    for (const id of to) {
      this.init.messenger.send(id, { kind: MessageKind.RoundUpdate, codec: 0, tag: 0, epoch: view.epoch, step: this.step, seq: 0 }, payload).catch(() => undefined);
    }
  }

  /** Two-shot owners' shares for this round, from the last round's contributions (see ownerShares); undefined after a sync or a refused round. */
  private lastShares(view: MembershipView, participants: readonly string[]): number[] | undefined {
    const last = this.history.at(-1);
    if (this.freshSync || !last?.contributions || last.epoch !== view.epoch || last.step !== this.step) return undefined;
    return ownerShares(participants, last.contributions);
  }

  /** Every `checkEvery` steps (replica-check.ts); a mismatch is reported and ends the epoch. Resolves with the time it waited. */
  private async checkReplicas(view: MembershipView, signal: AbortSignal): Promise<number> {
    if (view.members.length < 2) return 0;
    const what = `replica check at step ${this.step}`;
    const { result: divergence, waitedMs } = await this.withCollective(view, signal, what, (c) => findDivergence(c, view.members, this.weightsHash));
    if (divergence !== null) {
      this.note('divergence', divergence);
      throw new DivergenceError(divergence);
    }
    return waitedMs;
  }

  /** The gradient of `step`'s batch at the current weights; a non-finite one is reported and replaced by zeros. */
  private localGradient(step: number, rank: number): LocalGradient {
    const local = localGradient(this.init.model, this.init.train, this.shard, this.init.config, step, rank);
    if (local.zeroed) this.note('nonfinite', `non-finite gradient at step ${step}; contributed zeros`);
    return local;
  }

  private evaluate(): void {
    // Floats only for the evaluation: the subset stays bytes in between.
    this.testAccuracy = this.init.model.accuracy(gather(this.init.test, this.testIndices));
  }
}
