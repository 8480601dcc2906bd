/**
 * One worker's training loop, the same in a tab and in a Node worker. Data flows one way:
 * membership view -> sync (agree on the step, pull state if behind) -> local gradient ->
 * aggregator (compress + collectives) -> optimizer -> next step.
 *
 * Membership: the signaling server numbers each membership with an epoch. A new epoch aborts
 * whatever step is under way (its collectives reject, nothing is applied), then every member
 * says hello (its step and weights hash); members behind, or holding other weights, fetch the
 * state of the lowest-id member at the highest step. So a late joiner, a peer whose step was cut
 * short, and a diverged replica are all repaired by the same mechanism, and no step ever mixes
 * two epochs.
 */
import { createAggregator } from '../compress/index.ts';
import type { GradientAggregator } from '../compress/types.ts';
import { RingCollective } from '../collective/ring-collective.ts';
import { subset, type Dataset } from '../data/mnist.ts';
import { deadline } from '../deadline.ts';
import { DivergenceError, errorMessage, isRecoverable, PeerLeftError, suspectOf, TimeoutError, WireFormatError } from '../errors.ts';
import type { Collective } from '../collective/collective.ts';
import type { Model } from '../model/model.ts';
import { Rng } from '../rng.ts';
import { MessageKind } from '../wire/frame.ts';
import type { Message, Messenger } from '../wire/messenger.ts';
import { yieldToEventLoop } from '../yield.ts';
import type { RunConfig } from './config.ts';
import { hashArrays, hasNonFinite } from './hash.ts';
import { createOptimizer, type Optimizer } from './optimizer.ts';
import { assignShard } from './shard.ts';
import type { SessionEvent, StepRecord } from '../protocol/status.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';

export interface MembershipView {
  epoch: number;
  /** Peer ids, sorted. */
  members: string[];
}

export type SessionState = 'connecting' | 'training' | 'done' | 'error';

export interface SessionInit {
  selfId: string;
  config: RunConfig;
  messenger: Messenger;
  model: Model;
  train: Dataset;
  test: Dataset;
  /** Opens channels to every member; resolves when all are open, rejects by the signal. */
  connect(members: string[], signal: AbortSignal): Promise<void>;
  /** Asks the signaling server for a new epoch after a failed step, naming the peer at fault if known. */
  requestNewEpoch?(suspect: string | undefined): void;
  /** Called after every step and state change. */
  onUpdate?(session: TrainingSession): void;
  /**
   * Ceiling of a step's deadline. The deadline adapts to recent steps (five times the median
   * plus two seconds, at least `minStepTimeoutMs`); the first step after a sync gets the ceiling,
   * since it may include a newcomer's warm-up. @default 30 s
   */
  stepTimeoutMs?: number;
  /** Floor of a step's deadline. @default 5 s */
  minStepTimeoutMs?: number;
  /** Deadline for channels to open and hellos to arrive. @default 20 s */
  syncTimeoutMs?: number;
}

interface Hello {
  step: number;
  hash: string;
}

const TEST_SEED_PURPOSE = 'test-subset';
/** Collective tag of the periodic replica check (the compressors use small tags). */
const TAG_REPLICA_CHECK = 100;

/** Times the waits inside collectives, so a step's time splits into compress and communicate. */
class TimedCollective implements Collective {
  waitedMs = 0;
  constructor(private readonly inner: Collective) {}
  get size(): number {
    return this.inner.size;
  }
  get rank(): number {
    return this.inner.rank;
  }
  get step(): number {
    return this.inner.step;
  }
  allReduceSum(values: Float32Array, tag: number, options?: { wire?: 'f32' | 'f16' }): Promise<Float32Array> {
    return this.timed(this.inner.allReduceSum(values, tag, options));
  }
  allGather(blob: Uint8Array, tag: number): Promise<Uint8Array[]> {
    return this.timed(this.inner.allGather(blob, tag));
  }
  private async timed<T>(work: Promise<T>): Promise<T> {
    const began = performance.now();
    try {
      return await work;
    } finally {
      this.waitedMs += performance.now() - began;
    }
  }
}

interface LocalGradient {
  step: number;
  grads: Float32Array[];
  loss: number;
  ms: number;
}

export class TrainingSession {
  state: SessionState = 'connecting';
  error: string | null = null;
  step = 0;
  loss: number | null = null;
  testAccuracy: number | null = null;
  weightsHash = '';
  readonly history: StepRecord[] = [];
  readonly events: SessionEvent[] = [];
  view: MembershipView | undefined;
  /** How long the last recovery took, from the failed step to the next completed one. */
  lastRecoveryMs: number | null = null;

  private weights: Float32Array[];
  private readonly optimizer: Optimizer;
  private readonly aggregator: GradientAggregator;
  private readonly testSet: Dataset;
  private shard: Int32Array = new Int32Array(0);
  private viewAbort = new AbortController();
  private viewWaiters: Array<() => void> = [];
  private started = false;
  private stopped = false;
  private syncedEpoch = -1;
  /** When the step under way first failed; cleared by the next completed step. */
  private failedAt: number | undefined;
  /** With staleness 1: the next step's gradient, computed while this step's update travelled. */
  private prefetched: LocalGradient | undefined;
  /** The first step after a sync gets the ceiling deadline. */
  private freshSync = true;

  constructor(private readonly init: SessionInit) {
    const { config, model } = init;
    this.weights = model.initialWeights(config.seed);
    model.setWeights(this.weights);
    this.weightsHash = hashArrays(this.weights);
    this.optimizer = createOptimizer(config, this.weights.map((w) => w.length));
    this.aggregator = createAggregator(config, model.layers);
    const testIndices = Rng.derive(config.seed, TEST_SEED_PURPOSE).sample(init.test.count, Math.min(config.evalSize, init.test.count));
    this.testSet = subset(init.test, testIndices);
    init.messenger.handle(MessageKind.StateRequest, (m) => void this.serveState(m));
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

  /** A new membership from the signaling server: aborts the step under way if the epoch moved. */
  setView(view: MembershipView): void {
    if (this.view && view.epoch <= this.view.epoch) return;
    const previous = this.view;
    this.view = { epoch: view.epoch, members: [...view.members].sort() };
    this.note('membership', describeChange(previous?.members ?? [], this.view.members, this.view.epoch));
    this.viewAbort.abort(new PeerLeftError('', `membership changed (epoch ${view.epoch})`));
    this.viewAbort = new AbortController();
    for (const wake of this.viewWaiters.splice(0)) wake();
    this.init.onUpdate?.(this);
  }

  stop(): void {
    this.stopped = true;
    this.viewAbort.abort(new PeerLeftError('', 'stopped'));
    for (const wake of this.viewWaiters.splice(0)) wake();
  }

  dispose(): void {
    this.stop();
    this.aggregator.dispose();
  }

  /** Trains until `config.steps` or stop(); never throws for recoverable network trouble. */
  async run(): Promise<void> {
    const { config } = this.init;
    try {
      while (this.step < config.steps && !this.stopped) {
        const view = this.view;
        if (!view || (!this.started && view.members.length < config.workers)) {
          this.state = 'connecting';
          await this.waitForView(60_000);
          continue;
        }
        this.started = true;
        const signal = this.viewAbort.signal;
        const began = Date.now();
        try {
          if (this.syncedEpoch !== view.epoch) {
            await this.sync(view, signal);
            this.syncedEpoch = view.epoch;
            this.freshSync = true;
            this.note('synced', `epoch ${view.epoch}: ${view.members.length} peers at step ${this.step}`, Date.now() - began);
          }
          this.state = 'training';
          await this.trainStep(view, signal);
        } catch (err) {
          if (this.stopped) break;
          if (!isRecoverable(err)) throw err;
          this.failedAt ??= Date.now();
          this.prefetched = undefined;
          this.note('step-aborted', `step ${this.step} in epoch ${view.epoch}: ${errorMessage(err)}`);
          this.syncedEpoch = -1;
          if (this.view === view) {
            // Nobody told us the membership changed: ask for a fresh epoch and wait for it.
            this.init.requestNewEpoch?.(suspectOf(err));
            await this.waitForView(10_000);
          }
        }
        await yieldToEventLoop();
      }
      if (!this.stopped) {
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
    if (this.events.length > 500) this.events.shift();
  }

  private waitForView(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.viewWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Agree on the step with every member of the epoch; fetch the state if behind or diverged. */
  private async sync(view: MembershipView, signal: AbortSignal): Promise<void> {
    const { messenger } = this.init;
    const limit = deadline(this.init.syncTimeoutMs ?? 20_000, `sync of epoch ${view.epoch}`, signal);
    try {
      messenger.advance(view.epoch, this.step);
      await this.init.connect(view.members, limit.signal);
      const others = view.members.filter((id) => id !== this.init.selfId);
      const header = { kind: MessageKind.Hello, codec: 0, tag: 0, epoch: view.epoch, step: 0, seq: 0 };
      const mine: Hello = { step: this.step, hash: this.weightsHash };
      const payload = new TextEncoder().encode(JSON.stringify(mine));
      const heard = new Set<string>();
      const [, replies] = await Promise.all([
        Promise.all(others.map((id) => messenger.send(id, header, payload))),
        Promise.all(others.map((id) => messenger.receive(id, header, limit.signal).then((m) => (heard.add(id), m)))),
      ]).catch((err: unknown) => {
        const silent = others.find((id) => !heard.has(id));
        throw (err as Error).name === 'TimeoutError' && silent ? new TimeoutError(`${(err as Error).message} (no hello from ${silent.slice(0, 8)})`, silent) : err;
      });
      const hellos = new Map<string, Hello>([[this.init.selfId, mine]]);
      for (const reply of replies) hellos.set(reply.from, parseHello(reply.payload));
      const source = chooseSource(view.members, hellos);
      const best = hellos.get(source)!;
      if (best.step !== this.step || best.hash !== this.weightsHash) await this.fetchState(source, view.epoch, limit.signal);
      if (this.step === 0 && this.history.length === 0 && this.testAccuracy === null) this.evaluate();
      const { train, config, selfId } = this.init;
      this.shard = assignShard(config, train.labels, train.classes, view.members.indexOf(selfId), view.members.length);
      messenger.advance(view.epoch, this.step);
    } finally {
      limit.clear();
    }
  }

  private async fetchState(source: string, epoch: number, signal: AbortSignal): Promise<void> {
    const began = Date.now();
    const header = { kind: MessageKind.StateRequest, codec: 0, tag: 0, epoch, step: 0, seq: 0 };
    await this.init.messenger.send(source, header, new Uint8Array(0));
    const reply = await this.init.messenger.receive(source, { ...header, kind: MessageKind.State }, signal);
    const snapshot = decodeSnapshot(reply.payload);
    if (snapshot.weights.length !== this.weights.length || snapshot.weights.some((w, i) => w.length !== this.weights[i]!.length)) {
      throw new WireFormatError('received state does not match this model');
    }
    this.optimizer.importState(snapshot.optimizer);
    this.aggregator.importSharedState(snapshot.codecState);
    this.weights = snapshot.weights;
    this.step = snapshot.step;
    this.init.model.setWeights(this.weights);
    this.weightsHash = hashArrays(this.weights);
    this.note('state-received', `state of step ${snapshot.step} from ${source.slice(0, 8)} (${reply.payload.length} bytes)`, Date.now() - began);
  }

  private async serveState(request: Message): Promise<void> {
    const snapshot = encodeSnapshot({
      step: this.step,
      weights: this.weights,
      optimizer: this.optimizer.exportState(),
      codecState: this.aggregator.exportSharedState(),
    });
    const header = { ...request.header, kind: MessageKind.State };
    try {
      await this.init.messenger.send(request.from, header, snapshot);
    } catch (err) {
      this.note('step-aborted', `could not send state to ${request.from.slice(0, 8)}: ${errorMessage(err)}`);
    }
  }

  private async trainStep(view: MembershipView, signal: AbortSignal): Promise<void> {
    const { config, messenger, selfId } = this.init;
    const rank = view.members.indexOf(selfId);
    const t0 = performance.now();
    const local = this.prefetched?.step === this.step ? this.prefetched : this.localGradient(this.step, rank);
    this.prefetched = undefined;
    let prefetchMs = 0;
    const sentBefore = messenger.stats.bytesSent;
    const receivedBefore = messenger.stats.bytesReceived;
    const limit = deadline(this.stepDeadlineMs(), `step ${this.step}`, signal);
    const t1 = performance.now();
    let update: Float32Array[];
    let collective: TimedCollective;
    try {
      collective = new TimedCollective(new RingCollective({ messenger, members: view.members, epoch: view.epoch, step: this.step, signal: limit.signal, codec: this.aggregator.codecId }));
      const pending = this.aggregator.aggregate(local.grads, collective);
      if (config.staleness === 1 && this.step + 1 < config.steps) {
        // Overlap: the next gradient is computed at the current weights while this update travels.
        pending.catch(() => undefined);
        this.prefetched = this.localGradient(this.step + 1, rank);
        prefetchMs = this.prefetched.ms;
      }
      update = await pending;
    } finally {
      limit.clear();
    }
    const t2 = performance.now();
    // The update has identical bits everywhere, so every replica makes the same choice here.
    if (hasNonFinite(update)) this.note('nonfinite', `non-finite update at step ${this.step}; not applied`);
    else this.optimizer.apply(this.weights, update, 1 / (1 + config.staleness));
    this.init.model.setWeights(this.weights);
    this.weightsHash = hashArrays(this.weights);
    this.step++;
    this.loss = local.loss;
    this.freshSync = false;
    messenger.advance(view.epoch, this.step);
    const measured = this.step % config.evalEvery === 0 || this.step === config.steps;
    if (measured) this.evaluate();
    const t3 = performance.now();
    this.history.push({
      step: this.step,
      epoch: view.epoch,
      peers: view.members.length,
      loss: local.loss,
      ...(measured && this.testAccuracy !== null ? { testAccuracy: this.testAccuracy } : {}),
      bytesSent: messenger.stats.bytesSent - sentBefore,
      bytesReceived: messenger.stats.bytesReceived - receivedBefore,
      weightsHash: this.weightsHash,
      ms: {
        compute: local.ms + prefetchMs,
        // With staleness 1 the prefetch may run inside a collective's wait: the split is approximate.
        compress: Math.max(0, t2 - t1 - collective.waitedMs - prefetchMs),
        communicate: collective.waitedMs,
        apply: t3 - t2,
        total: t3 - t0,
      },
      time: Date.now(),
    });
    if (this.failedAt !== undefined) {
      this.lastRecoveryMs = Date.now() - this.failedAt;
      this.note('recovered', `training again at step ${this.step} with ${view.members.length} peers`, this.lastRecoveryMs);
      this.failedAt = undefined;
    }
    if (config.checkEvery > 0 && this.step % config.checkEvery === 0) await this.checkReplicas(view, signal);
    this.init.onUpdate?.(this);
  }

  /**
   * Every `checkEvery` steps the members compare weight hashes. A mismatch is a bug or a fault,
   * never expected: report it and ask for a new epoch, whose sync adopts the majority's state.
   */
  private async checkReplicas(view: MembershipView, signal: AbortSignal): Promise<void> {
    if (view.members.length < 2) return;
    const limit = deadline(this.stepDeadlineMs(), `replica check at step ${this.step}`, signal);
    try {
      const collective = new RingCollective({ messenger: this.init.messenger, members: view.members, epoch: view.epoch, step: this.step, signal: limit.signal, codec: this.aggregator.codecId });
      const hashes = (await collective.allGather(new TextEncoder().encode(this.weightsHash), TAG_REPLICA_CHECK)).map((b) => new TextDecoder().decode(b));
      const differing = view.members.filter((_, r) => hashes[r] !== this.weightsHash);
      if (differing.length > 0) {
        const message = `weights differ at step ${this.step}: ${differing.map((id) => `${id.slice(0, 8)}=${hashes[view.members.indexOf(id)]}`).join(', ')} vs ours ${this.weightsHash}`;
        this.note('divergence', message);
        throw new DivergenceError(message);
      }
    } finally {
      limit.clear();
    }
  }

  /** Adaptive: five times the median of the last 20 steps plus 2 s, within [floor, ceiling]. */
  private stepDeadlineMs(): number {
    const ceiling = this.init.stepTimeoutMs ?? 30_000;
    const floor = Math.min(ceiling, this.init.minStepTimeoutMs ?? 5_000);
    const recent = this.history.slice(-20).map((r) => r.ms.total).sort((a, b) => a - b);
    if (this.freshSync || recent.length < 3) return ceiling;
    const median = recent[Math.floor(recent.length / 2)]!;
    return Math.min(ceiling, Math.max(floor, 5 * median + 2000));
  }

  /** The gradient of `step`'s batch at the current weights; a non-finite one is replaced by zeros. */
  private localGradient(step: number, rank: number): LocalGradient {
    const began = performance.now();
    const { grads, loss } = this.init.model.gradient(this.sampleBatch(step, rank));
    if (hasNonFinite(grads) || !Number.isFinite(loss)) {
      // A bad local gradient must not poison the others: contribute zeros this step and say so.
      this.note('nonfinite', `non-finite gradient at step ${step}; contributed zeros`);
      for (const g of grads) g.fill(0);
    }
    return { step, grads, loss, ms: performance.now() - began };
  }

  private evaluate(): void {
    this.testAccuracy = this.init.model.accuracy(this.testSet);
  }

  /** A step's batch: drawn with replacement from the shard, seeded by (seed, step, rank). */
  private sampleBatch(step: number, rank: number): Dataset {
    const rng = Rng.derive(this.init.config.seed, 'batch', step, rank);
    const indices = new Int32Array(this.init.config.batchSize);
    for (let i = 0; i < indices.length; i++) indices[i] = this.shard[rng.int(this.shard.length)]!;
    return subset(this.init.train, indices);
  }
}

function parseHello(bytes: Uint8Array): Hello {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new WireFormatError('hello is not JSON');
  }
  const v = value as Partial<Hello> | null;
  if (!v || !Number.isInteger(v.step) || typeof v.hash !== 'string') throw new WireFormatError('malformed hello');
  return { step: v.step!, hash: v.hash };
}

/**
 * The member whose state everyone adopts: among those at the highest step, the weights hash most
 * of them hold (a diverged replica is outvoted), then the lowest id. No fixed leader.
 */
export function chooseSource(members: string[], hellos: Map<string, Hello>): string {
  const top = Math.max(...[...hellos.values()].map((h) => h.step));
  const votes = new Map<string, number>();
  for (const h of hellos.values()) if (h.step === top) votes.set(h.hash, (votes.get(h.hash) ?? 0) + 1);
  const bestHash = [...votes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
  return [...members].sort().find((id) => hellos.get(id)?.step === top && hellos.get(id)?.hash === bestHash)!;
}

function describeChange(before: string[], after: string[], epoch: number): string {
  const joined = after.filter((id) => !before.includes(id)).map((id) => id.slice(0, 8));
  const left = before.filter((id) => !after.includes(id)).map((id) => id.slice(0, 8));
  const parts = [`epoch ${epoch}: ${after.length} peers`];
  if (joined.length) parts.push(`joined ${joined.join(', ')}`);
  if (left.length) parts.push(`left ${left.join(', ')}`);
  return parts.join('; ');
}
