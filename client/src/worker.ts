/**
 * One worker, in a tab or in Node: backend -> data -> signaling (room, config, membership) ->
 * WebRTC mesh -> the shared TrainingSession. Everything it knows is in `status()`. What differs
 * between a tab and Node (how to start a tfjs backend, how to read MNIST, which WebRTC
 * implementation) comes in through WorkerOptions.
 */
import { errorMessage } from '../../shared/src/errors.ts';
import { Model } from '../../shared/src/model/model.ts';
import { pickConfigParams, type RunConfig } from '../../shared/src/train/config.ts';
import { TrainingSession, type MembershipView, type StepRecord } from '../../shared/src/train/session.ts';
import { Messenger } from '../../shared/src/wire/messenger.ts';
import type { Dataset } from '../../shared/src/data/mnist.ts';
import type { BackendChoice } from './backend.ts';
import { SignalingClient } from './signaling.ts';
import type { TabStatus } from './status.ts';
import { WebRtcTransport } from './webrtc-transport.ts';

export interface WorkerOptions {
  room: string;
  /** Signaling server URL; the page's own origin by default. */
  signalingUrl: string | undefined;
  /** URL parameters or CLI flags: the run configuration this worker proposes if it creates the room. */
  params: Record<string, string>;
  /** Starts the tfjs backend and says which one runs. */
  startBackend(): Promise<BackendChoice>;
  loadData(): Promise<{ train: Dataset; test: Dataset }>;
  /** A WebRTC implementation for simple-peer where the platform has none (Node). */
  wrtc?: unknown;
}

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
      bytesSent: this.messenger?.stats.bytesSent ?? 0,
      bytesReceived: this.messenger?.stats.bytesReceived ?? 0,
      lastStepBytesSent: last?.bytesSent ?? 0,
      lastStepBytesReceived: last?.bytesReceived ?? 0,
      state: this.failure ? 'error' : (s?.state ?? 'connecting'),
      error: this.failure ?? s?.error ?? null,
      config: this.config,
      compressor: s?.compressorName ?? null,
      stepsPerSecond: span > 0 ? (recent.length - 1) / span : null,
      events: s?.events.slice(-50) ?? [],
    };
  }

  history(): readonly StepRecord[] {
    return this.session?.history ?? [];
  }

  async start(): Promise<void> {
    try {
      this.backend = await this.options.startBackend();
      this.onChange();
      // Load and warm up before joining: a member must be ready to train the moment it counts.
      const data = await this.options.loadData();
      this.signaling = new SignalingClient(this.options.signalingUrl, {
        onMembers: (e) => this.setView({ epoch: e.epoch, members: e.members }),
        onSignal: (e) => this.transport?.handleSignal(e.from, e.data),
        onError: (message) => this.warn(message),
      });
      const joined = await this.signaling.join(this.options.room, pickConfigParams(this.options.params));
      this.peerId = joined.peerId;
      this.config = joined.config;
      this.transport = new WebRtcTransport(joined.peerId, {
        relay: (to, data) => this.signaling!.relay(to, data),
        ...(this.options.wrtc ? { wrtc: this.options.wrtc } : {}),
      });
      this.messenger = new Messenger(this.transport, { onError: (err, from) => this.warn(`frame from ${from.slice(0, 8)} rejected: ${errorMessage(err)}`) });
      this.setView({ epoch: joined.epoch, members: joined.members });
      const model = new Model(joined.config.model, data.train.shape, data.train.classes);
      this.session = new TrainingSession({
        selfId: joined.peerId,
        config: joined.config,
        messenger: this.messenger,
        model,
        train: data.train,
        test: data.test,
        connect: (members, signal) => this.transport!.connect(members, signal),
        requestNewEpoch: () => this.signaling?.resync(this.view.epoch),
        onUpdate: () => this.onChange(),
      });
      this.session.setView(this.view);
      this.onChange();
      await this.session.run();
    } catch (err) {
      this.failure = errorMessage(err);
      console.error('tabswarm:', err);
    } finally {
      this.onChange();
    }
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
    this.session?.events.push({ time: Date.now(), kind: 'error', message });
    this.onChange();
  }
}
