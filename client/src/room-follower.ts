/**
 * A tab that follows a room without training: an observer (`role=observer`), or any tab that
 * opened a room whose run has finished (the server makes it an observer). It is no member: the
 * server counts it in no epoch, no ring waits for it and nobody blames it. Over WebRTC it asks a
 * member for the state, checks it as a late joiner would (observe.ts: the step and hash the member
 * announced, finite, this model's shapes; for a finished run, the hash the room finished with),
 * and measures the test accuracy on the room's own evaluation subset. It fetches again when asked
 * (`refresh()`) and when the run finishes. The signaling server never sees a weight.
 */
import { deadline, errorMessage, evaluationSubset, gather, hold, Messenger, observeState, type Examples, type MembershipView, type Task, type TrainableModel } from '@tabswarm/shared';
import { ModelUnavailableError, type FinishedRun, type JoinResult, type SessionEvent } from '@tabswarm/shared/protocol';
import { WebRtcTransport } from './webrtc-transport.ts';

/**
 * One member's answer (connection, hello, snapshot) gets this long before the next member is
 * asked: a member still training answers between its steps, slowly on a loaded machine.
 */
const FETCH_FROM_ONE_MS = 30_000;
/** Of which the connection gets this long: a negotiation left hanging is given up sooner. */
const CONNECT_MS = 8_000;
/** Rounds over the members before a finished room's model is declared out of reach. */
const ROUNDS = 2;
const MAX_EVENTS = 200;

export interface FollowerInit {
  joined: JoinResult;
  /** The room's task: the model whose weights the members hold. */
  task: Task;
  test: Examples;
  relay(to: string, data: unknown): void;
  wrtc?: unknown;
  onChange(): void;
}

export class RoomFollower {
  state: 'connecting' | 'observing' | 'done' | 'error' = 'connecting';
  error: string | null = null;
  step = 0;
  weightsHash = '';
  testAccuracy: number | null = null;
  finished: FinishedRun | null;
  weights: Float32Array[] | null = null;
  readonly events: SessionEvent[] = [];
  readonly transport: WebRtcTransport;
  readonly messenger: Messenger;
  private readonly model: TrainableModel;
  private view: MembershipView;
  private fetching: Promise<void> | undefined;
  private readonly closing = new AbortController();

  constructor(private readonly init: FollowerInit) {
    const { joined } = init;
    this.finished = joined.finished ?? null;
    this.view = { epoch: joined.epoch, members: joined.members };
    this.transport = new WebRtcTransport(joined.peerId, { iceServers: joined.iceServers, relay: init.relay, ...(init.wrtc ? { wrtc: init.wrtc } : {}) });
    this.messenger = new Messenger(this.transport);
    // From the start: a member may offer a connection as soon as it hears of this observer.
    this.transport.setMembers(joined.members);
    this.model = init.task.createModel(init.test, joined.config);
  }

  /** The members who hold the state now. */
  get members(): readonly string[] {
    return this.view.members;
  }

  setView(view: MembershipView): void {
    if (view.epoch <= this.view.epoch) return;
    this.view = view;
    this.transport.setMembers(view.members);
    if (this.finished && view.members.length === 0 && this.state !== 'done') this.unavailable();
    // Observing a room nobody trained in yet: the first members bring a state to copy.
    else if (this.state === 'connecting' && view.members.length > 0) void this.refresh();
    this.init.onChange();
  }

  /** The run finished: fetch its final state (unless held already, or on its way). */
  setFinished(run: FinishedRun): void {
    this.finished = run;
    // A fetch under way may bring the final state already; if not, one more.
    void this.refresh().then(() => (this.state === 'done' || this.state === 'error' ? undefined : this.refresh()));
  }

  /** Fetches the state from the first member that hands over a verified one; one fetch at a time. */
  refresh(): Promise<void> {
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = undefined;
      this.init.onChange();
    });
    return this.fetching;
  }

  close(): void {
    this.closing.abort();
    this.messenger.dispose();
    this.transport.close();
    this.model.dispose();
  }

  private async fetch(): Promise<void> {
    const { config } = this.init.joined;
    const finished = this.finished;
    if (finished && this.state === 'done' && this.weightsHash === finished.hash) return;
    if (finished && this.view.members.length === 0) return this.unavailable();
    const sizes = this.model.layers.map((l) => l.shape.reduce((a, b) => a * b, 1));
    const sources = [...this.view.members].sort();
    for (const source of Array.from({ length: ROUNDS }, () => sources).flat()) {
      if (this.closing.signal.aborted) return;
      const limit = deadline(FETCH_FROM_ONE_MS, `the state from ${source.slice(0, 8)}`, this.closing.signal);
      try {
        const connecting = deadline(CONNECT_MS, `connecting to ${source.slice(0, 8)}`, limit.signal);
        await this.transport.connectTo(source, connecting.signal).finally(() => connecting.clear());
        const got = await observeState(this.messenger, source, {
          epoch: this.view.epoch, sizes, lastStep: config.steps, signal: limit.signal,
          ...(finished ? { expected: { step: finished.step, hash: finished.hash } } : {}),
        });
        this.weights = got.snapshot.weights;
        this.model.setWeights(got.snapshot.weights);
        this.step = got.snapshot.step;
        this.weightsHash = got.hash;
        this.note('state-received', `state of step ${got.snapshot.step} from ${source.slice(0, 8)} (${got.bytes} bytes)`, got.ms);
        await this.evaluate(limit.signal);
        // The run may have finished while this fetch was on its way.
        const run = this.finished;
        this.state = run && got.snapshot.step === run.step && got.hash === run.hash ? 'done' : 'observing';
        if (this.state === 'done') this.note('done', `holds the finished run: step ${this.step}, weights ${this.weightsHash}`);
        this.error = null;
        return;
      } catch (err) {
        if (this.closing.signal.aborted) return;
        this.note('peer-input', `no state from ${source.slice(0, 8)}: ${errorMessage(err)}`);
      } finally {
        limit.clear();
        this.init.onChange();
      }
    }
    if (finished) return this.unavailable('no member handed it over');
    if (this.state === 'connecting' && this.view.members.length === 0) this.note('membership', 'no member to observe yet');
  }

  /** Accuracy on the room's evaluation subset, as its members measure it. */
  private async evaluate(signal: AbortSignal): Promise<void> {
    const indices = evaluationSubset(this.init.joined.config, this.init.test.count);
    await hold(this.init.test, indices, signal);
    this.testAccuracy = this.model.accuracy(gather(this.init.test, indices));
  }

  private unavailable(why = 'nobody in the room holds its model any more'): void {
    const run = this.finished!;
    const accuracy = run.testAccuracy === null ? '' : `, test accuracy ${(100 * run.testAccuracy).toFixed(2)} %`;
    const error = new ModelUnavailableError(`the run finished at step ${run.step} (weights ${run.hash}${accuracy}); ${why}`);
    this.state = 'error';
    this.error = errorMessage(error);
    this.note('error', this.error);
  }

  private note(kind: SessionEvent['kind'], message: string, ms?: number): void {
    this.events.push({ time: Date.now(), kind, message, ...(ms !== undefined ? { ms } : {}) });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }
}
