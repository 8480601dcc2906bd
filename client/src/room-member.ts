/**
 * One member of a room, in a tab or in Node: backend -> data -> signaling (room, config,
 * membership) -> WebRTC mesh -> the shared TrainingSession. It joins, connects, trains, and joins
 * again as a new member after an eviction or a lost signaling connection. Everything it knows is in
 * `status()`; `close()` closes everything it opened. What differs between a tab and Node (how to
 * start a tfjs backend, how to read MNIST, which WebRTC implementation) comes in through
 * RoomMemberOptions.
 */
import { AbortedError, errorMessage, isShaped, parseLinkSettings, type LinkSettings, pickConfigParams, type RunConfig, type TabStatus } from '@tabswarm/shared/protocol';
import { deadline, raceSignal, Model, TrainingSession, type MembershipView, type StepRecord, ShapedTransport, Messenger, type Dataset } from '@tabswarm/shared';
import type { BackendChoice, BackendExclusion } from './backend.ts';
import { NoteLog } from './note-log.ts';
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
  loadData(): Promise<{ train: Dataset; test: Dataset }>;
  /** A WebRTC implementation for simple-peer where the platform has none (Node). */
  wrtc?: unknown;
}

/** How long an evicted or disconnected member waits before it joins again. */
const REJOIN_DELAY_MS = 3_000;
/**
 * How long close() waits for the training loop to notice and return before it closes the loop's
 * parts anyway. Stopping aborts every wait of the session, so this is only a ceiling.
 */
const CLOSE_WAIT_MS = 10_000;

/** What one membership opened, closed together when it ends. */
interface MembershipParts {
  session: TrainingSession;
  messenger: Messenger;
  transport: WebRtcTransport;
  model: Model;
}

export class RoomMember {
  private peerId: string | null = null;
  private config: RunConfig | null = null;
  private backend: BackendChoice | null = null;
  private view: MembershipView = { epoch: 0, members: [] };
  /** The current membership's parts (cleared once closed); the session stays readable after. */
  private parts: MembershipParts | undefined;
  private session: TrainingSession | undefined;
  private signaling: SignalingClient | undefined;
  private failure: string | null = null;
  /** This member's shaped link (`bandwidth`, `latency`, `jitter`, `loss` params), null if unshaped. */
  private link: LinkSettings | null = null;
  /** Why the current membership ended early (eviction, lost signaling connection), if it did. */
  private interrupted: string | null = null;
  /** Events of this member that outlive one membership. */
  private readonly notes = new NoteLog();
  /** Traffic of closed memberships, so totals count since the member started. */
  private earlierTraffic = { sent: 0, received: 0 };
  /** Aborted by close(): ends the training loop and every wait outside the session. */
  private readonly closing = new AbortController();
  private running: Promise<void> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: RoomMemberOptions, private readonly onChange: () => void) {}

  status(): TabStatus {
    const s = this.session;
    const messenger = this.parts?.messenger;
    const last = s?.history.at(-1);
    const recent = s?.history.slice(-11) ?? [];
    const span = recent.length > 1 ? (recent.at(-1)!.time - recent[0]!.time) / 1000 : 0;
    return {
      peerId: this.peerId,
      room: this.options.room,
      epoch: this.view.epoch,
      peers: this.view.members.filter((id) => id !== this.peerId),
      connectedPeers: this.parts?.transport.connectedPeers().sort() ?? [],
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
      state: this.failure ? 'error' : (s?.state ?? 'connecting'),
      error: this.failure ?? s?.error ?? null,
      config: this.config,
      compressor: s?.compressorName ?? null,
      compressionRatio: s?.compressionRatio ?? null,
      stepsPerSecond: span > 0 ? (recent.length - 1) / span : null,
      events: [...this.notes.list(), ...(s?.events ?? [])].sort((a, b) => a.time - b.time).slice(-50),
      lastRecoveryMs: s?.lastRecoveryMs ?? null,
      link: this.link,
    };
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

  private async shutDown(): Promise<void> {
    this.closing.abort(new AbortedError('room member closed'));
    this.parts?.session.stop();
    if (this.running) {
      // Let the loop return before its parts go, so nothing is used after it is disposed.
      const limit = deadline(CLOSE_WAIT_MS, 'closing the room member');
      await raceSignal(this.running, limit.signal, 'closing the room member').catch(() => undefined);
      limit.clear();
    }
    this.closeMembership();
    this.signaling?.close();
    this.onChange();
  }

  private async run(): Promise<void> {
    const closing = this.closing.signal;
    try {
      const link = parseLinkSettings(this.options.params);
      this.link = isShaped(link) ? link : null;
      this.backend = await this.options.startBackend();
      this.onChange();
      // Load before joining: a member must be ready to train the moment it counts.
      const data = await this.options.loadData();
      if (closing.aborted) return;
      this.signaling = new SignalingClient(this.options.signalingUrl, {
        onMembers: (e) => this.setView({ epoch: e.epoch, members: e.members }),
        onSignal: (e) => this.parts?.transport.handleSignal(e.from, e.data),
        onError: (message) => this.warn(message),
        onEvicted: (e) => this.interrupt(`evicted from room ${e.room}: ${e.reason}`),
        onReconnected: () => this.interrupt('the signaling connection was lost; joining again'),
      });
      // A member evicted for missing deadlines, or cut off from the signaling server, joins again
      // as a new member and catches up through the usual state transfer.
      while ((await this.trainAsMember(data, closing)) === 'interrupted') {
        await sleep(REJOIN_DELAY_MS, closing);
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
  private async trainAsMember(data: { train: Dataset; test: Dataset }, closing: AbortSignal): Promise<'done' | 'interrupted'> {
    if (closing.aborted) return 'done';
    this.interrupted = null;
    const joined = await this.signaling!.join(this.options.room, pickConfigParams(this.options.params), { signal: closing });
    // close() may have run while the answer was on its way; from here to `this.parts` all is synchronous.
    if (closing.aborted) return 'done';
    this.peerId = joined.peerId;
    this.config = joined.config;
    if (joined.config.model === 'cnn' && this.backend?.active === 'wasm') {
      // Known gap of tfjs 4.22: the wasm backend has no Conv2DBackpropFilter kernel.
      this.backend = await this.options.startBackend({ name: 'wasm', reason: 'it has no Conv2DBackpropFilter kernel, so it cannot train the cnn' });
      if (closing.aborted) return 'done';
    }
    this.view = { epoch: 0, members: [] };
    const transport = new WebRtcTransport(joined.peerId, {
      relay: (to, signal) => this.signaling!.relay(to, signal),
      ...(this.options.wrtc ? { wrtc: this.options.wrtc } : {}),
    });
    const shaped = this.link ? new ShapedTransport(transport, { link: this.link, seed: joined.config.seed }) : transport;
    const messenger = new Messenger(shaped, { onError: (err, from) => this.warn(`frame from ${from.slice(0, 8)} rejected: ${errorMessage(err)}`) });
    const model = new Model(joined.config.model, data.train.shape, data.train.classes);
    const session = new TrainingSession({
      selfId: joined.peerId,
      config: joined.config,
      messenger,
      model,
      train: data.train,
      test: data.test,
      connect: (members, signal) => transport.connect(members, signal),
      requestNewEpoch: (suspect) => this.signaling?.resync(this.view.epoch, suspect),
      onUpdate: () => this.onChange(),
    });
    this.parts = { session, messenger, transport, model };
    this.session = session;
    this.setView({ epoch: joined.epoch, members: joined.members });
    this.onChange();
    try {
      await session.run();
    } finally {
      // A finished run keeps its channels open (its last frames may still be on their way to
      // slower peers) until close(); an interrupted one makes way for the next membership.
      if (this.interrupted || closing.aborted) this.closeMembership();
    }
    return this.interrupted && !closing.aborted ? 'interrupted' : 'done';
  }

  /** Closes what the current membership opened, once. */
  private closeMembership(): void {
    const parts = this.parts;
    if (!parts) return;
    this.parts = undefined;
    this.earlierTraffic.sent += parts.messenger.stats.bytesSent;
    this.earlierTraffic.received += parts.messenger.stats.bytesReceived;
    parts.session.dispose();
    parts.messenger.dispose();
    parts.transport.close();
    parts.model.dispose();
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

/** Waits `ms`, or less if `signal` aborts (then it resolves all the same). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
