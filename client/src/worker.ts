/**
 * One worker, in a tab or in Node: backend -> data -> signaling (room, config, membership) ->
 * WebRTC mesh -> the shared TrainingSession. Everything it knows is in `status()`. What differs
 * between a tab and Node (how to start a tfjs backend, how to read MNIST, which WebRTC
 * implementation) comes in through WorkerOptions.
 */
import { errorMessage, isShaped, parseLinkSettings, type LinkSettings, pickConfigParams, type RunConfig, type TabStatus } from '@tabswarm/shared/protocol';
import { Model, TrainingSession, type MembershipView, type SessionEvent, type StepRecord, ShapedTransport, Messenger, type Dataset } from '@tabswarm/shared';
import type { BackendChoice, BackendExclusion } from './backend.ts';
import { SignalingClient } from './signaling.ts';
import { WebRtcTransport } from './webrtc-transport.ts';

export interface WorkerOptions {
  room: string;
  /** Signaling server URL; the page's own origin by default. */
  signalingUrl: string | undefined;
  /** URL parameters or CLI flags: the run configuration this worker proposes if it creates the room. */
  params: Record<string, string>;
  /** Starts the tfjs backend and says which one runs; `exclude` names one that cannot train the room's model. */
  startBackend(exclude?: BackendExclusion): Promise<BackendChoice>;
  loadData(): Promise<{ train: Dataset; test: Dataset }>;
  /** A WebRTC implementation for simple-peer where the platform has none (Node). */
  wrtc?: unknown;
}

/** How long an evicted or disconnected worker waits before it joins again. */
const REJOIN_DELAY_MS = 3_000;

export class SwarmWorker {
  private peerId: string | null = null;
  private config: RunConfig | null = null;
  private backend: BackendChoice | null = null;
  private view: MembershipView = { epoch: 0, members: [] };
  private transport: WebRtcTransport | undefined;
  private messenger: Messenger | undefined;
  private session: TrainingSession | undefined;
  private signaling: SignalingClient | undefined;
  private failure: string | null = null;
  /** This worker's shaped link (`bandwidth`, `latency`, `jitter`, `loss` params), null if unshaped. */
  private link: LinkSettings | null = null;
  /** Why the current membership ended early (eviction, lost signaling connection), if it did. */
  private interrupted: string | null = null;
  /** Events of this worker that outlive one membership. */
  private readonly notes: SessionEvent[] = [];
  /** Traffic of earlier memberships, so totals count since the worker started. */
  private earlierTraffic = { sent: 0, received: 0 };

  constructor(private readonly options: WorkerOptions, private readonly onChange: () => void) {}

  status(): TabStatus {
    const s = this.session;
    const last = s?.history.at(-1);
    const recent = s?.history.slice(-11) ?? [];
    const span = recent.length > 1 ? (recent.at(-1)!.time - recent[0]!.time) / 1000 : 0;
    return {
      peerId: this.peerId,
      room: this.options.room,
      epoch: this.view.epoch,
      peers: this.view.members.filter((id) => id !== this.peerId),
      connectedPeers: this.transport?.connectedPeers().sort() ?? [],
      backend: this.backend?.active ?? null,
      backendFallback: this.backend?.fallbackReason ?? null,
      step: s?.step ?? 0,
      loss: s?.loss ?? null,
      testAccuracy: s?.testAccuracy ?? null,
      weightsHash: s?.weightsHash ?? '',
      bytesSent: this.earlierTraffic.sent + (this.messenger?.stats.bytesSent ?? 0),
      bytesReceived: this.earlierTraffic.received + (this.messenger?.stats.bytesReceived ?? 0),
      lastStepBytesSent: last?.bytesSent ?? 0,
      lastStepBytesReceived: last?.bytesReceived ?? 0,
      state: this.failure ? 'error' : (s?.state ?? 'connecting'),
      error: this.failure ?? s?.error ?? null,
      config: this.config,
      compressor: s?.compressorName ?? null,
      compressionRatio: s?.compressionRatio ?? null,
      stepsPerSecond: span > 0 ? (recent.length - 1) / span : null,
      events: [...this.notes, ...(s?.events ?? [])].sort((a, b) => a.time - b.time).slice(-50),
      lastRecoveryMs: s?.lastRecoveryMs ?? null,
      link: this.link,
    };
  }

  history(): readonly StepRecord[] {
    return this.session?.history ?? [];
  }

  async start(): Promise<void> {
    try {
      const link = parseLinkSettings(this.options.params);
      this.link = isShaped(link) ? link : null;
      this.backend = await this.options.startBackend();
      this.onChange();
      // Load before joining: a member must be ready to train the moment it counts.
      const data = await this.options.loadData();
      this.signaling = new SignalingClient(this.options.signalingUrl, {
        onMembers: (e) => this.setView({ epoch: e.epoch, members: e.members }),
        onSignal: (e) => this.transport?.handleSignal(e.from, e.data),
        onError: (message) => this.warn(message),
        onEvicted: (e) => this.interrupt(`evicted from room ${e.room}: ${e.reason}`),
        onReconnected: () => this.interrupt('the signaling connection was lost; joining again'),
      });
      // A worker evicted for missing deadlines, or cut off from the signaling server, joins again
      // as a new member and catches up through the usual state transfer.
      while ((await this.trainAsMember(data)) === 'interrupted') {
        await new Promise((resolve) => setTimeout(resolve, REJOIN_DELAY_MS));
      }
    } catch (err) {
      this.failure = errorMessage(err);
      console.error('tabswarm:', err);
    } finally {
      this.onChange();
    }
  }

  /** One membership: join, connect, train until done or interrupted. */
  private async trainAsMember(data: { train: Dataset; test: Dataset }): Promise<'done' | 'interrupted'> {
    this.interrupted = null;
    const joined = await this.signaling!.join(this.options.room, pickConfigParams(this.options.params));
    this.peerId = joined.peerId;
    this.config = joined.config;
    if (joined.config.model === 'cnn' && this.backend?.active === 'wasm') {
      // Known gap of tfjs 4.22: the wasm backend has no Conv2DBackpropFilter kernel.
      this.backend = await this.options.startBackend({ name: 'wasm', reason: 'it has no Conv2DBackpropFilter kernel, so it cannot train the cnn' });
    }
    this.view = { epoch: 0, members: [] };
    this.transport = new WebRtcTransport(joined.peerId, {
      relay: (to, data) => this.signaling!.relay(to, data),
      ...(this.options.wrtc ? { wrtc: this.options.wrtc } : {}),
    });
    const shaped = this.link ? new ShapedTransport(this.transport, { link: this.link, seed: joined.config.seed }) : this.transport;
    this.messenger = new Messenger(shaped, { onError: (err, from) => this.warn(`frame from ${from.slice(0, 8)} rejected: ${errorMessage(err)}`) });
    const model = new Model(joined.config.model, data.train.shape, data.train.classes);
    this.session = new TrainingSession({
      selfId: joined.peerId,
      config: joined.config,
      messenger: this.messenger,
      model,
      train: data.train,
      test: data.test,
      connect: (members, signal) => this.transport!.connect(members, signal),
      requestNewEpoch: (suspect) => this.signaling?.resync(this.view.epoch, suspect),
      onUpdate: () => this.onChange(),
    });
    this.setView({ epoch: joined.epoch, members: joined.members });
    this.onChange();
    try {
      await this.session.run();
    } finally {
      if (this.interrupted) {
        this.earlierTraffic.sent += this.messenger.stats.bytesSent;
        this.earlierTraffic.received += this.messenger.stats.bytesReceived;
        this.session.dispose();
        this.messenger.dispose();
        this.transport.close();
        model.dispose();
      }
    }
    return this.interrupted ? 'interrupted' : 'done';
  }

  private interrupt(reason: string): void {
    if (!this.session || this.interrupted) return;
    this.interrupted = reason;
    this.notes.push({ time: Date.now(), kind: 'evicted', message: reason });
    this.session.stop();
    this.onChange();
  }

  private setView(view: MembershipView): void {
    if (view.epoch <= this.view.epoch) return;
    this.view = view;
    this.transport?.setMembers(view.members);
    this.session?.setView(view);
    this.onChange();
  }

  private warn(message: string): void {
    console.warn('tabswarm:', message);
    this.notes.push({ time: Date.now(), kind: 'error', message });
    this.onChange();
  }
}
