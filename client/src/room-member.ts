/**
 * One member of a room, in a tab or in Node: consent (where asked: the server's preview of the
 * room, before anything heavy) -> backend -> data -> signaling (room, config, membership) ->
 * WebRTC mesh -> the shared TrainingSession. It joins, connects, trains, and joins
 * again as a new member after an eviction. Everything it knows is in `status()`; `close()` closes
 * everything it opened. What differs between a tab and Node (how to start a tfjs backend, how to
 * read MNIST, which WebRTC implementation) and what it trains (the task: data and model) come in
 * through RoomMemberOptions.
 *
 * The signaling server may go away and come back (a restart, a deploy, a network hiccup); the
 * room's state lives in its members. While it is away training goes on over the data channels
 * with the membership as it was: membership changes wait for the server, and a member whose step
 * fails then pauses (it says so) rather than train with fewer peers on its own. When the
 * connection is back the member re-registers the room under the same peer id (the mesh survives)
 * with its epoch, view, step and weights hash (`room:rejoin`); if the server says its state lost
 * to the room's (a fork), it drops it and catches up by state transfer. It never starts a fresh
 * run in a room it was training in.
 *
 * Longer than our other files (about 550 lines) for a reason: consent, joining, training, eviction
 * and a lost server are one state machine over the same few fields (view, session, token, pause),
 * and cutting it apart would spread each transition over two files.
 */
import { AbortedError, CONFIG_KEYS, ConfigError, ModelExportError, type DataStatus, errorMessage, type FinishedRun, type JoinResult, type JoinRole, MAX_KNOWN_PEERS, isShaped, parseLinkSettings, parseRunConfig, type LinkSettings, pickConfigParams, PROGRESS_REPORT_MS, type ConfigCost, type EvictedEvent, type RejoinRequest, type RejoinResult, type RoomOffer, type RunConfig, type TabStatus } from '@tabswarm/shared/protocol';
import { classCounts, DataError, deadline, raceSignal, roomTaskName, waitForAbort, TrainingSession, type Dataset, type LocalDataSpec, type MembershipView, type StepRecord, ShapedTransport, Messenger, ExampleStore, type Examples, type Task, type TaskData, type TrainableModel, type Transport } from '@tabswarm/shared';
import type { BackendChoice, BackendExclusion } from './backend.ts';
import { ConsentGate, ignoredKeys, type ConsentRequest } from './consent.ts';
import { exportLayersModel, exportTaskModel, type LayersFiles } from './layers-export.ts';
import { NoteLog } from './note-log.ts';
import { RoomFollower } from './room-follower.ts';
import { PathMonitor } from './peer-paths.ts';
import { SignalingClient } from './signaling.ts';
import { WebRtcTransport } from './webrtc-transport.ts';

export interface RoomMemberOptions {
  room: string;
  /** Signaling server URL; the page's own origin by default. */
  signalingUrl: string | undefined;
  /** URL parameters or CLI flags: the run configuration this member proposes if it creates the room. */
  params: Record<string, string>;
  /** Starts the tfjs backend and says which one runs; `exclude` names one that cannot train the room's model. */
  startBackend(exclude?: BackendExclusion): Promise<BackendChoice>;
  /**
   * The task this member trains in a room of `config`: the built-in one its `model` key names
   * (task/mnist-tasks.ts), or the caller's own whatever the key. Its data is loaded before the
   * member joins (for the configuration its params propose) and again only if the room's task
   * names other data.
   */
  task(config: RunConfig): Task;
  /** A WebRTC implementation for simple-peer where the platform has none (Node). */
  wrtc?: unknown;
  /** `observer`: follow the room without training (room-follower.ts). @default 'member' */
  role?: JoinRole;
  /**
   * May this member join? Asked before anything heavy starts (the backend's warm-up, the data
   * download) when the room is an organiser's or its configuration is heavy (the server's
   * estimate says why), from the server's preview of the room; asked again after the join only
   * if the room turned out heavier than what was agreed to. false: the member leaves for good
   * (state `left`). Absent: yes, without a preview (Node workers, tools).
   */
  askConsent?(request: ConsentRequest): Promise<boolean>;
  /**
   * This member trains on its own data (`data=local`): asked once the task's data is loaded, with
   * what the task takes, before the member joins; it resolves once the volunteer chose files that
   * fit (checked against `spec`). The member joins only then, so waiting holds nobody up. Its
   * training data replaces the member's shard; evaluation stays on the task's test set.
   */
  localData?(spec: LocalDataSpec, signal: AbortSignal): Promise<LocalData>;
}

/** A volunteer's own training data, checked against the task (shared/src/data/local-data.ts). */
export interface LocalData {
  train: Dataset;
  /** The files it came from, for the status. */
  files: string[];
}

/** A task's data, loaded once and kept under the name of its dataset. */
interface LoadedData {
  dataset: string;
  data: TaskData;
  /** `data.train` is this member's own (the files it came from). */
  localFiles?: string[];
}

/** How long an evicted member waits before it joins again, and a failed re-registration before it tries again. */
const REJOIN_DELAY_MS = 3_000;
/**
 * How long close() waits for the training loop to notice and return before it closes the loop's
 * parts anyway. Stopping aborts every wait of the session, so this is only a ceiling.
 */
const CLOSE_WAIT_MS = 10_000;

/** What one membership opened, closed together when it ends (a fork replaces all but the transport). */
interface MembershipParts {
  session: TrainingSession;
  messenger: Messenger;
  transport: WebRtcTransport;
  model: TrainableModel;
}

/** The parts a session is built over, kept when a fork replaces the session. */
interface Mesh {
  transport: WebRtcTransport;
  /** The transport as the messenger sees it (shaped, or the transport itself). */
  link: Transport;
}

export class RoomMember {
  private peerId: string | null = null;
  /** Proof of `peerId`, presented when re-registering the room after a lost connection. */
  private token: string | null = null;
  private config: RunConfig | null = null;
  private cost: ConfigCost | null = null;
  private backend: BackendChoice | null = null;
  private view: MembershipView = { epoch: 0, members: [] };
  /** The paths of the current mesh's connections (direct or relayed), measured every few seconds. */
  private paths: PathMonitor | undefined;
  /** The current membership's parts (cleared once closed); the session stays readable after. */
  private parts: MembershipParts | undefined;
  private session: TrainingSession | undefined;
  private signaling: SignalingClient | undefined;
  private failure: string | null = null;
  /** This member's shaped link (`bandwidth`, `latency`, `jitter`, `loss` params), null if unshaped. */
  private link: LinkSettings | null = null;
  /** Why the current membership ended early (eviction, peer id taken), if it did. */
  private interrupted: string | null = null;
  /** How long the server said an eviction keeps this member's address out of the room. */
  private rejoinAfterMs = 0;
  /** Our state lost to the room's (a fork): the next session, in this config, starts from nothing and catches up. */
  private adopting: { config: RunConfig } | null = null;
  /** A request for a new epoch made while the server was away; sent once the room is re-registered. */
  private unsentResync: { epoch: number; suspect: string | undefined } | null = null;
  /** Where training paused because a step failed while the server was away. */
  private pausedAt: { epoch: number; step: number } | null = null;
  private reregistering = false;
  /** Peers this member trained with in this room (earlier views too), the latest MAX_KNOWN_PEERS. */
  private readonly known = new Set<string>();
  /** Events of this member that outlive one membership. */
  private readonly notes = new NoteLog();
  /** Traffic of closed memberships, so totals count since the member started. */
  private earlierTraffic = { sent: 0, received: 0 };
  /** Aborted by close(): ends the training loop and every wait outside the session. */
  private readonly closing = new AbortController();
  private data: LoadedData | undefined;
  /** Waiting for the volunteer's own files (`localData`): the tab has not joined yet. */
  private choosingData = false;
  /** The room is an organiser's (from its preview or join). */
  private organised = false;
  /** Keys this member proposed that the room's configuration does not follow. */
  private ignored: string[] = [];
  private readonly consent: ConsentGate;
  /** Why this member is out of its room for good (left, declined, removed by the organiser). */
  private leftReason: string | null = null;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  /** Set when this tab follows the room instead of training (an observer, or a finished room). */
  private follower: RoomFollower | undefined;
  /** The room's observers, whom this member serves the state. */
  private observers = new Set<string>();
  /** The room's finished run, once the server says so. */
  private finished: FinishedRun | null = null;
  /** The run this member last told the server it finished (`step hash`): each is told once. */
  private reportedRun: string | null = null;
  /** The task of the current session. */
  private task: Task | undefined;
  /** The room key `task` this member proposes: its task's name, empty for a built-in task. */
  private taskName = '';
  private running: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: RoomMemberOptions, private readonly onChange: () => void) {
    this.consent = new ConsentGate(options.askConsent?.bind(options), onChange, options.localData !== undefined);
  }

  status(): TabStatus {
    if (this.follower) return this.followerStatus(this.follower);
    const s = this.session;
    const messenger = this.parts?.messenger;
    const last = s?.history.at(-1);
    const connectedPeers = this.parts?.transport.connectedPeers().sort() ?? [];
    const recent = s?.history.slice(-11) ?? [];
    const span = recent.length > 1 ? (recent.at(-1)!.time - recent[0]!.time) / 1000 : 0;
    return {
      peerId: this.peerId,
      room: this.options.room,
      epoch: this.view.epoch,
      peers: this.view.members.filter((id) => id !== this.peerId),
      connectedPeers,
      backend: this.backend?.active ?? null,
      backendFallback: this.backend?.fallbackReason ?? null,
      step: s?.step ?? 0,
      loss: s?.loss ?? null,
      testAccuracy: s?.testAccuracy ?? null,
      weightsHash: s?.weightsHash ?? '',
      bytesSent: this.earlierTraffic.sent + (messenger?.stats.bytesSent ?? 0),
      bytesReceived: this.earlierTraffic.received + (messenger?.stats.bytesReceived ?? 0),
      lastStepBytesSent: last?.bytesSent ?? 0,
      lastStepBytesReceived: last?.bytesReceived ?? 0,
      state: this.leftReason !== null ? 'left' : this.failure ? 'error' : (s?.state ?? 'connecting'),
      error: this.failure ?? s?.error ?? null,
      config: this.config,
      cost: this.cost,
      compressor: s?.compressorName ?? null,
      compressionRatio: s?.compressionRatio ?? null,
      stepsPerSecond: span > 0 ? (recent.length - 1) / span : null,
      events: [...this.notes.list(), ...(s?.events ?? [])].sort((a, b) => a.time - b.time).slice(-50),
      lastRecoveryMs: s?.lastRecoveryMs ?? null,
      link: this.link,
      signaling: { ...(this.signaling?.status ?? { state: 'connecting', since: null }), paused: this.paused() },
      peerPaths: this.paths?.paths(connectedPeers) ?? [],
      ...(s ? { rounds: s.roundStatus } : {}),
      data: dataStatus(this.data, this.choosingData),
      ...(this.task ? { task: this.task.name } : {}),
      organised: this.organised,
      ignoredKeys: [...this.ignored],
      consent: this.consent.status,
      left: this.leftReason,
      ...(this.peerId ? { role: 'member' as const } : {}),
      finished: this.finished,
      observers: [...this.observers].sort(),
    };
  }

  /** An observer's status: the state it fetched, no training of its own. */
  private followerStatus(f: RoomFollower): TabStatus {
    const connectedPeers = f.transport.connectedPeers().sort();
    return {
      peerId: this.peerId, room: this.options.room, epoch: this.view.epoch, peers: [...f.members], connectedPeers,
      backend: this.backend?.active ?? null, backendFallback: this.backend?.fallbackReason ?? null,
      step: f.step, loss: null, testAccuracy: f.testAccuracy, weightsHash: f.weightsHash,
      bytesSent: f.messenger.stats.bytesSent, bytesReceived: f.messenger.stats.bytesReceived, lastStepBytesSent: 0, lastStepBytesReceived: 0,
      state: this.failure ? 'error' : f.state, error: this.failure ?? f.error, config: this.config, cost: this.cost,
      compressor: null, compressionRatio: null, stepsPerSecond: null,
      events: [...this.notes.list(), ...f.events].sort((a, b) => a.time - b.time).slice(-50),
      lastRecoveryMs: null, link: this.link,
      signaling: { ...(this.signaling?.status ?? { state: 'connecting', since: null }), paused: false },
      peerPaths: this.paths?.paths(connectedPeers) ?? [], data: dataStatus(this.data),
      role: 'observer', finished: f.finished, observers: [],
    };
  }

  /**
   * The model this tab holds (trained, or fetched as an observer) in TensorFlow.js's Layers format:
   * a built-in model as its equivalent topology, a task's own as its LayersModel's.
   */
  async exportModel(): Promise<{ files: LayersFiles; step: number; weightsHash: string }> {
    const weights = this.follower ? this.follower.weights : this.session?.weights;
    const config = this.config;
    const data = this.data?.data;
    if (!weights || !config || !data) throw new ModelExportError('this tab holds no model yet');
    const step = this.follower?.step ?? this.session!.step;
    const weightsHash = this.follower?.weightsHash ?? this.session!.weightsHash;
    const baseName = `${this.options.room}-step${step}`;
    const task = this.options.task(config);
    const shape = data.train.shape;
    if (!task.builtin) return { files: await exportTaskModel(task, data.train, config, weights, baseName), step, weightsHash };
    if (shape.length !== 3) throw new ModelExportError(`the built-in ${config.model} takes images [height, width, channels], this data's examples have shape [${shape.join(', ')}]`);
    const files = await exportLayersModel({ name: config.model, inputShape: [shape[0]!, shape[1]!, shape[2]!], classes: data.train.classes }, [...weights], baseName);
    return { files, step, weightsHash };
  }

  /** An observer fetches the room's state again; a member holds it already. */
  refresh(): Promise<void> {
    return this.follower?.refresh() ?? Promise.resolve();
  }

  history(): readonly StepRecord[] {
    return this.session?.history ?? [];
  }

  /** Trains until the run is done, fails, or close() is called; calling it again returns the same run. */
  start(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  /**
   * Stops training and closes everything this member opened: the session, messenger, WebRTC
   * transport, model, signaling socket and the rejoin timer. Idempotent: every call returns the
   * same promise. status() and history() still answer afterwards.
   */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  /** The volunteer leaves: training stops, the room is left, and this member stays out (state `left`). */
  leave(reason = 'left the room'): Promise<void> {
    this.leftReason ??= reason;
    return this.close();
  }

  private async shutDown(): Promise<void> {
    this.closing.abort(new AbortedError('room member closed'));
    clearInterval(this.progressTimer);
    this.parts?.session.stop();
    if (this.running) {
      // Let the loop return before its parts go, so nothing is used after it is disposed.
      const limit = deadline(CLOSE_WAIT_MS, 'closing the room member');
      await raceSignal(this.running, limit.signal, 'closing the room member').catch(() => undefined);
      limit.clear();
    }
    this.closeMembership();
    this.follower?.close();
    this.signaling?.close();
    this.onChange();
  }

  private async run(): Promise<void> {
    const closing = this.closing.signal;
    try {
      const link = parseLinkSettings(this.options.params);
      this.link = isShaped(link) ? link : null;
      // Nothing heavy before the volunteer agreed: the backend's warm-up and the download wait for it.
      if (this.options.askConsent && !(await this.agree(await this.preview(closing), closing))) return;
      this.backend = await this.options.startBackend();
      this.onChange();
      // Load before joining: a member must be ready to train the moment it counts. The room's
      // configuration, if its preview gave it, names the task (a served model is checked here, before the join).
      const proposed = this.options.task(this.config ?? parseRunConfig(pickConfigParams(this.options.params)));
      this.taskName = roomTaskName(proposed);
      // With data of its own, the task's data is loaded for its test set, shape and classes.
      this.choosingData = this.options.localData !== undefined;
      await this.dataFor(proposed, closing);
      if (this.choosingData) await this.chooseLocalData(proposed, closing);
      if (closing.aborted) return;
      this.signaling = new SignalingClient(this.options.signalingUrl, {
        onMembers: (e) => this.setView({ epoch: e.epoch, members: e.members }),
        onSignal: (e) => (this.follower?.transport ?? this.parts?.transport)?.handleSignal(e.from, e.data),
        onObservers: (e) => this.setObservers(e.observers),
        onFinished: (e) => this.runFinished(e.run),
        onError: (message) => this.warn(message),
        onEvicted: (e) => this.evicted(e),
        onDisconnected: (reason) => this.lostServer(reason),
        onReconnected: () => void this.reregister(),
      });
      this.progressTimer = setInterval(() => this.reportProgress(), PROGRESS_REPORT_MS);
      // A member evicted for missing deadlines joins again as a new member and catches up through
      // the usual state transfer (one its organiser removed stays out: leftReason); the server
      // makes an evicted member's address wait before it joins again.
      while ((await this.trainAsMember(closing)) === 'interrupted' && this.leftReason === null) {
        await waitForAbort(closing, Math.max(REJOIN_DELAY_MS, this.rejoinAfterMs));
        this.rejoinAfterMs = 0;
      }
    } catch (err) {
      // Whatever close() cut short is no failure.
      if (!closing.aborted) {
        this.failure = errorMessage(err);
        console.error('tabswarm:', err);
      }
    } finally {
      this.onChange();
    }
  }

  /** One membership: join, connect, train until done, interrupted or closed. */
  private async trainAsMember(closing: AbortSignal): Promise<'done' | 'interrupted'> {
    if (closing.aborted) return 'done';
    this.interrupted = null;
    const proposal = { ...pickConfigParams(this.options.params), ...(this.taskName ? { task: this.taskName } : {}) };
    const joined = await this.signaling!.join(this.options.room, proposal, { signal: closing, ticket: this.options.params.ticket, role: this.options.role ?? 'member' });
    if (closing.aborted) return 'done';
    if (joined.role === 'observer') return this.follow(joined, closing);
    this.config = joined.config;
    // Older servers send no estimate.
    this.cost = joined.cost ?? null;
    this.organised = joined.organised === true;
    this.ignored = ignoredKeys(this.options.params, joined.config);
    const offer: RoomOffer | null = this.cost && { room: joined.room, config: joined.config, cost: this.cost, organised: this.organised, members: joined.members.length - 1 };
    // The room may have changed since its preview (opened meanwhile by another tab's keys).
    if (offer && !(await this.agree(offer, closing))) {
      this.signaling!.leave();
      return 'done';
    }
    // A model of other layers could never be averaged with the room's: refuse before training.
    const mine = roomTaskName(this.options.task(joined.config));
    if (mine !== joined.config.task) {
      this.signaling!.leave();
      const what = (name: string): string => (name ? `the task ${name}` : `the built-in task of model=${joined.config.model}`);
      throw new ConfigError(`room ${this.options.room} trains ${what(joined.config.task)}; this member runs ${what(mine)}`);
    }
    // close() may have run while the answer was on its way; from here to `this.parts` all is synchronous.
    if (closing.aborted) return 'done';
    this.peerId = joined.peerId;
    this.token = joined.token;
    this.known.clear();
    if (!(await this.backendFor(joined.config, closing))) return 'done';
    this.view = { epoch: 0, members: [] };
    const transport = new WebRtcTransport(joined.peerId, {
      iceServers: joined.iceServers,
      relay: (to, signal) => this.signaling!.relay(to, signal),
      ...(this.options.wrtc ? { wrtc: this.options.wrtc } : {}),
    });
    transport.setObservers(joined.observers ?? []);
    this.observers = new Set(joined.observers ?? []);
    this.paths = new PathMonitor(transport, () => this.onChange());
    const mesh: Mesh = { transport, link: this.link ? new ShapedTransport(transport, { link: this.link, seed: joined.config.seed }) : transport };
    let view: MembershipView = { epoch: joined.epoch, members: joined.members };
    /** The configuration the next session trains in. */
    let session: RunConfig = joined.config;
    try {
      for (;;) {
        await this.trainSession(session, mesh, view, closing);
        const adopting = this.adopting;
        this.adopting = null;
        if (!adopting || this.interrupted || closing.aborted) break;
        // A fork lost: the same mesh and peer id, a session from nothing that catches up with a
        // run under way, so it does not wait for `workers` members first.
        this.closeSession();
        this.config = adopting.config;
        session = { ...adopting.config, workers: 1 };
        if (!(await this.backendFor(adopting.config, closing))) break;
        view = this.view;
      }
    } finally {
      // A finished run keeps its channels open (its last frames may still be on their way to
      // slower peers) until close(); an interrupted one makes way for the next membership.
      if (this.interrupted || closing.aborted) this.closeMembership();
    }
    return this.interrupted && !closing.aborted ? 'interrupted' : 'done';
  }

  /** One session over `mesh`, from the current view or `view` if newer, until it ends or is stopped. */
  private async trainSession(config: RunConfig, mesh: Mesh, view: MembershipView, closing: AbortSignal): Promise<void> {
    const task = this.options.task(config);
    // Synchronous when the data is loaded already (the usual case): nothing runs in between.
    const data = this.data?.dataset === task.dataset ? this.data.data : await this.dataFor(task, closing);
    if (closing.aborted) return;
    this.task = task;
    const messenger = new Messenger(mesh.link, { onError: (err, from) => this.warn(`frame from ${from.slice(0, 8)} rejected: ${errorMessage(err)}`) });
    const model = task.createModel(data.train, config);
    const session = new TrainingSession({
      selfId: mesh.transport.selfId,
      config,
      messenger,
      model,
      train: data.train,
      test: data.test,
      ownData: this.data?.localFiles !== undefined,
      connect: (members, signal) => mesh.transport.connect(members, signal),
      requestNewEpoch: (suspect, epoch) => this.requestNewEpoch(suspect, epoch),
      isObserver: (id) => this.observers.has(id),
      // A finished member may be taken back by a later epoch and finish again: each end is reported.
      onUpdate: () => {
        this.reportFinished();
        this.onChange();
      },
    });
    this.parts = { session, messenger, transport: mesh.transport, model };
    this.session = session;
    if (this.view.epoch > 0) session.setView(this.view);
    this.setView(view);
    this.onChange();
    await session.run();
  }

  /**
   * Follows the room without training (an observer, or a finished room): fetches its state from a
   * member over WebRTC, again on refresh() and when the run finishes, until close().
   */
  private async follow(joined: JoinResult, closing: AbortSignal): Promise<'done'> {
    this.peerId = joined.peerId;
    this.config = joined.config;
    this.cost = joined.cost ?? null;
    this.finished = joined.finished ?? null;
    if (!(await this.backendFor(joined.config, closing))) return 'done';
    const task = this.options.task(joined.config);
    const data = await this.dataFor(task, closing);
    if (closing.aborted) return 'done';
    const follower = new RoomFollower({ joined, task, test: data.test, relay: (to, signal) => this.signaling!.relay(to, signal), ...(this.options.wrtc ? { wrtc: this.options.wrtc } : {}), onChange: () => this.onChange() });
    this.follower = follower;
    this.view = { epoch: joined.epoch, members: joined.members };
    this.paths = new PathMonitor(follower.transport, () => this.onChange());
    const why = joined.finished ? `the run finished at step ${joined.finished.step}: fetching its model from a member` : 'observing: fetching the state from a member';
    this.notes.add('membership', `joined room ${joined.room} as an observer (${why})`, Date.now());
    this.onChange();
    await follower.refresh();
    await waitForAbort(closing);
    return 'done';
  }

  /** Tells the server our run ended, once per end (again after a re-registration: a restarted server knows nothing of it). */
  private reportFinished(): void {
    const s = this.session;
    if (s?.state !== 'done') return;
    const run = `${s.step} ${s.weightsHash}`;
    if (run !== this.reportedRun && this.signaling?.finished({ step: s.step, hash: s.weightsHash, testAccuracy: s.testAccuracy })) this.reportedRun = run;
  }

  private setObservers(observers: string[]): void {
    this.observers = new Set(observers);
    this.parts?.transport.setObservers(observers);
    this.onChange();
  }

  private runFinished(run: FinishedRun): void {
    this.finished = run;
    this.follower?.setFinished(run);
    this.onChange();
  }

  /**
   * Waits for the volunteer's own files, checked against what `task` takes (its loaded data's
   * shape and classes; MNIST's pixels come as bytes 0-255), and trains on them instead of a shard.
   */
  private async chooseLocalData(task: Task, closing: AbortSignal): Promise<void> {
    const loaded = this.data!;
    const { shape, classes } = loaded.data.train;
    const spec: LocalDataSpec = { shape, classes, scale: task.builtin ? 255 : 1 };
    this.notes.add('data', `waiting for this tab's own data: ${shape.join('x')} values per example, labels 0-${classes - 1}`, Date.now());
    this.onChange();
    let local: LocalData;
    try {
      local = await raceSignal(this.options.localData!(spec, closing), closing, 'choosing local data');
    } finally {
      this.choosingData = false;
    }
    this.data = { ...loaded, data: { train: local.train, test: loaded.data.test }, localFiles: local.files };
    this.notes.add('data', `training on this tab's own ${local.train.count} examples (${local.files.join(', ').slice(0, 200)}); they stay in this tab`, Date.now());
    this.onChange();
  }

  /** The data of `task`: the data loaded already if the task names it, else loaded now. */
  private async dataFor(task: Task, closing: AbortSignal): Promise<TaskData> {
    if (this.data?.localFiles && this.data.dataset !== task.dataset) {
      throw new DataError(`this tab's own data was checked for ${this.data.dataset}; the room's task ${task.name} takes ${task.dataset}`);
    }
    if (this.data?.dataset !== task.dataset) {
      this.data = { dataset: task.dataset, data: await task.loadData(closing) };
      this.onChange();
    }
    return this.data.data;
  }

  /** Starts another backend if the active one cannot train the task of `config` (false: closed meanwhile). */
  private async backendFor(config: RunConfig, closing: AbortSignal): Promise<boolean> {
    const excluded = this.options.task(config).excludedBackend?.(config);
    // A known gap: tfjs 4.22's wasm backend has no Conv2DBackpropFilter kernel.
    if (excluded && this.backend?.active === excluded.name) this.backend = await this.options.startBackend(excluded);
    return !closing.aborted;
  }

  /** Closes what the current membership opened, once. */
  private closeMembership(): void {
    const transport = this.parts?.transport;
    this.closeSession();
    transport?.close();
    this.paths?.close();
  }

  /** Closes the current session, its messenger and model (not the transport), once. */
  private closeSession(): void {
    const parts = this.parts;
    if (!parts) return;
    this.parts = undefined;
    this.earlierTraffic.sent += parts.messenger.stats.bytesSent;
    this.earlierTraffic.received += parts.messenger.stats.bytesReceived;
    parts.session.dispose();
    parts.messenger.dispose();
    parts.model.dispose();
  }

  /** The server connection dropped: training goes on over the data channels; membership changes wait. */
  private lostServer(reason: string): void {
    const peers = this.view.members.filter((id) => id !== this.peerId).length;
    const training = this.parts ? `training goes on with ${peers} peers over the data channels` : 'nothing to train yet';
    this.notes.add('signaling', `lost the signaling server (${reason}): ${training}; membership changes wait for it`, Date.now());
    this.onChange();
  }

  /**
   * The connection is back (the server may have restarted): re-registers the room under our peer
   * id, with our view, step and hash, until the server answers, the connection drops again, or
   * this member is closed. A member still joining has nothing to re-register.
   */
  private async reregister(): Promise<void> {
    if (this.reregistering) return;
    this.reregistering = true;
    const closing = this.closing.signal;
    this.notes.add('signaling', 'reconnected to the signaling server', Date.now());
    this.onChange();
    try {
      while (!closing.aborted && this.signaling?.connected) {
        const session = this.parts?.session;
        if (!session || !this.peerId || !this.token || !this.config || this.interrupted || this.view.epoch === 0) return;
        const request: RejoinRequest = {
          room: this.options.room, peerId: this.peerId, token: this.token, config: { ...this.config },
          epoch: this.view.epoch, members: [...this.view.members], step: session.step, hash: session.weightsHash,
          known: [...this.known].filter((id) => !this.view.members.includes(id)),
          ...(this.options.params.ticket === undefined ? {} : { ticket: this.options.params.ticket }),
        };
        try {
          this.registered(await this.signaling.rejoin(request, { signal: closing }), request);
          return;
        } catch (err) {
          if (closing.aborted) return;
          if ((err as Error).name === 'PeerIdTakenError') {
            this.interrupt(`could not re-register: ${errorMessage(err)}; joining as a new member`);
            return;
          }
          this.warn(`re-registering room ${this.options.room} failed: ${errorMessage(err)}`);
          await waitForAbort(closing, REJOIN_DELAY_MS);
        }
      }
    } finally {
      this.reregistering = false;
    }
  }

  /** The server took our registration: its view, and whether our state lost to the room's. */
  private registered(result: RejoinResult, request: RejoinRequest): void {
    this.token = result.token;
    // Fresh TURN credentials: the ones from the join may have expired by now.
    this.parts?.transport.setIceServers(result.iceServers);
    const view = { epoch: result.epoch, members: result.members };
    const otherConfig = this.config !== null && CONFIG_KEYS.some((key) => result.config[key] !== this.config![key]);
    this.notes.add('signaling', `re-registered room ${result.room}: epoch ${result.epoch}, ${result.members.length} members`, Date.now());
    if ((result.adopt || otherConfig) && this.parts) {
      const why = result.adopt ? 'the state of the room wins over ours (a fork the majority did not hold)' : 'the room trains another configuration';
      this.notes.add('fork', `${why}: dropping our state (step ${request.step}, ${request.hash.slice(0, 12)}) and catching up from the room`, Date.now());
      this.adopting = { config: result.config };
      this.setView(view);
      this.parts.session.stop();
    } else {
      this.setView(view);
    }
    // A step failed while the server was away: ask now, if that membership still stands.
    const unsent = this.unsentResync;
    this.unsentResync = null;
    if (unsent && unsent.epoch === this.view.epoch) this.signaling?.resync(unsent.epoch, unsent.suspect);
    this.reportedRun = null;
    this.reportFinished();
    this.onChange();
  }

  /**
   * A step failed without a new epoch: ask the server for one, or, while it is away, pause and say
   * so. A failure of an epoch already over only adds our blame to it (the server counts votes).
   */
  private requestNewEpoch(suspect: string | undefined, failed: number): void {
    const epoch = this.view.epoch;
    if (failed < epoch) {
      this.signaling?.resync(failed, suspect);
      return;
    }
    // While re-registering the server does not count us as a member yet: ask once it does.
    if (!this.reregistering && this.signaling?.resync(epoch, suspect)) return;
    this.unsentResync = { epoch, suspect };
    if (this.paused()) return;
    const step = this.session?.step ?? 0;
    this.pausedAt = { epoch, step };
    this.notes.add('paused', `step ${step + 1} failed while the signaling server is away (or our room not yet back in it): paused until it is back (only it changes the membership)`, Date.now());
    this.onChange();
  }

  /** Paused for want of the server, until the next completed step or membership. */
  private paused(): boolean {
    const at = this.pausedAt;
    return at !== null && at.epoch === this.view.epoch && at.step === (this.session?.step ?? 0);
  }

  /** Asks the server what joining means and the volunteer whether to join; false: declined or closed. */
  private async preview(closing: AbortSignal): Promise<RoomOffer> {
    const preview = new SignalingClient(this.options.signalingUrl, { onMembers() {}, onSignal() {}, onError: (m) => this.warn(m), onEvicted() {}, onReconnected() {} });
    let offer: RoomOffer;
    try {
      offer = await preview.preview(this.options.room, pickConfigParams(this.options.params), { signal: closing, ticket: this.options.params.ticket });
    } finally {
      preview.close();
    }
    this.organised = offer.organised;
    this.config = offer.config;
    this.cost = offer.cost;
    this.ignored = ignoredKeys(this.options.params, offer.config);
    return offer;
  }

  /** The volunteer's consent to `offer` (asked only if anything calls for it); a no ends this member (state `left`). */
  private async agree(offer: RoomOffer, closing: AbortSignal): Promise<boolean> {
    if (await this.consent.agree(offer, closing)) return true;
    if (!closing.aborted) void this.leave(`declined to join room ${offer.room}`);
    return false;
  }

  /** Removed from the room: by the room (join again, catch up) or by its organiser (stay out, say why). */
  private evicted(e: EvictedEvent): void {
    if (e.by !== 'organiser') {
      this.rejoinAfterMs = e.rejoinAfterMs ?? 0;
      this.interrupt(`evicted from room ${e.room}: ${e.reason}${this.rejoinAfterMs > 0 ? `; may join again in ${Math.ceil(this.rejoinAfterMs / 1000)} s` : ''}`);
      return;
    }
    this.notes.add('evicted', `removed from room ${e.room} by its organiser: ${e.reason}`, Date.now());
    void this.leave(`removed from room ${e.room} by its organiser`);
  }

  /** The progress line the organiser's page lists (never a weight or a gradient). */
  private reportProgress(): void {
    // Only as a member the server counts: not between an eviction and the next join, nor while re-registering.
    if (!this.parts || !this.signaling || this.interrupted || this.reregistering || this.leftReason !== null) return;
    const status = this.status();
    this.signaling.reportProgress({
      step: status.step, accuracy: status.testAccuracy, stepsPerSecond: status.stepsPerSecond,
      bytesPerStep: status.lastStepBytesSent, backend: status.backend,
    });
  }

  private interrupt(reason: string): void {
    if (!this.parts || this.interrupted) return;
    this.interrupted = reason;
    this.notes.add('evicted', reason, Date.now());
    this.parts.session.stop();
    this.onChange();
  }

  private setView(view: MembershipView): void {
    if (view.epoch <= this.view.epoch) return;
    this.view = view;
    if (this.follower) {
      this.follower.setView(view);
      return;
    }
    for (const id of view.members) {
      if (id === this.peerId) continue;
      this.known.delete(id);
      this.known.add(id);
    }
    for (const id of this.known) {
      if (this.known.size <= MAX_KNOWN_PEERS) break;
      this.known.delete(id);
    }
    this.parts?.transport.setMembers(view.members);
    this.parts?.session.setView(view);
    this.onChange();
  }

  private warn(message: string): void {
    console.warn('tabswarm:', message);
    this.notes.add('error', message, Date.now());
    this.onChange();
  }
}

/** What the member's data cost and holds: a store counts its traffic; data in memory cost nothing here. */
function dataStatus(loaded: LoadedData | undefined, choosing = false): DataStatus | null {
  if (!loaded) return null;
  const { data } = loaded;
  // While the volunteer chooses, the tab's data is its own, and none yet.
  const localFiles = choosing ? [] : loaded.localFiles;
  const traffic = [data.train, data.test].map((d) => (d instanceof ExampleStore ? d.traffic : { bytes: 0, requests: 0 }));
  const held = (d: Examples): number => (d instanceof ExampleStore ? d.held : d.count);
  return {
    bytesDownloaded: traffic[0]!.bytes + traffic[1]!.bytes,
    requests: traffic[0]!.requests + traffic[1]!.requests,
    trainExamples: choosing ? 0 : held(data.train),
    testExamples: held(data.test),
    source: localFiles ? 'local' : 'builtin',
    examples: choosing ? 0 : data.train.count,
    classes: data.train.classes,
    ...(localFiles ? { classCounts: choosing ? new Array<number>(data.train.classes).fill(0) : classCounts(data.train), files: [...localFiles] } : {}),
  };
}
