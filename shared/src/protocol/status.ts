/**
 * What a worker tells tools about itself: `window.tabswarm.status()` and `history()` in a tab,
 * the same records over IPC from a Node worker, and in the swarm CLI's metrics. A stable
 * interface: fields are added, never renamed or removed.
 */
import type { LinkSettings } from '../link.ts';
import type { RunConfig, SyncMode } from '../train/config.ts';
import type { ConfigCost } from '../train/config-cost.ts';
import type { FinishedRun, JoinRole } from './signaling.ts';

export interface StepRecord {
  step: number;
  epoch: number;
  peers: number;
  loss: number;
  /** Set on the steps where test accuracy was measured. */
  testAccuracy?: number;
  /** Frames sent in the step, headers included. */
  bytesSent: number;
  /** Of those, message payload: what `bytesPerStep` declares (frame headers not counted). */
  payloadBytesSent: number;
  bytesReceived: number;
  /** Hash of the weights after this step: equal on every replica. */
  weightsHash: string;
  /**
   * Milliseconds in each phase: the local gradient; compression and decompression (the
   * aggregator's own work); waiting inside collectives; the optimizer, hashing and evaluation.
   */
  ms: { compute: number; compress: number; communicate: number; apply: number; total: number };
  /** Wall-clock time at the end of the step (ms since epoch). */
  time: number;
  /**
   * With `sync=accumulate` or `sync=local`: what each member contributed to this round, by peer
   * id, in micro-batches or inner steps.
   */
  contributions?: Record<string, number>;
}

/** How the rounds go (`sync`, train/rounds/): one step, or a round of many batches. */
export interface RoundStatus {
  sync: SyncMode;
  /** Rounds completed (the step). */
  round: number;
  /** What a contribution counts: steps, micro-batches or inner steps. */
  unit: string;
  /** Each member's contribution in the last round, by peer id; null with `sync=step` or before the first round. */
  contributions: Record<string, number> | null;
  /** Share of the last rounds' time (up to 10) spent waiting inside collectives, in [0, 1]; null before the first. */
  waitingShare: number | null;
  /** Members sitting the next round out, too slow for it (`sync=accumulate`, `staleness=1`), by peer id. */
  sittingOut: string[];
  /** This member's training shard is still loading (`sync=accumulate`): it takes part with nothing until it holds it. */
  loadingShard: boolean;
}

export interface SessionEvent {
  time: number;
  kind:
    | 'membership' | 'synced' | 'state-received' | 'step-aborted' | 'recovered' | 'divergence'
    | 'nonfinite' | 'evicted' | 'done' | 'error'
    /** The server connection: lost, back, the room re-registered; training paused for want of it; a fork settled. */
    | 'signaling' | 'paused' | 'fork'
    /** A peer's input refused (a malformed hello or snapshot, a state request it may not make): the peer is blamed. */
    | 'peer-input'
    /** This tab's own data (`data=local`): waiting for the volunteer's files, then what they hold. */
    | 'data';
  message: string;
  /** How long the recovery or transfer took, where that applies. */
  ms?: number;
}

/**
 * The network path to one connected peer, from its RTCPeerConnection's stats (the selected ICE
 * candidate pair), measured every few seconds.
 */
export interface PeerPath {
  peerId: string;
  /**
   * relay: through a TURN server (either end of the selected pair is a relay candidate); direct:
   * host, server- or peer-reflexive candidates at both ends; unknown: not measured yet, or the
   * WebRTC implementation does not say.
   */
  path: 'direct' | 'relay' | 'unknown';
  /** ICE candidate types of the selected pair: host, srflx, prflx or relay. */
  localCandidateType: string | null;
  remoteCandidateType: string | null;
  /** Transport of the local candidate (udp, tcp); for a relay, how it reaches the TURN server. */
  protocol: string | null;
  /** The pair's current round-trip time (ICE consent checks), in milliseconds. */
  roundTripMs: number | null;
  /** When it was measured (ms since epoch); null before the first measurement. */
  measuredAt: number | null;
}

/** The connection to the signaling server, apart from the peers' data channels. */
export interface SignalingStatus {
  /**
   * connecting: before the first connection; connected; reconnecting: lost, trying again with
   * backoff (training goes on over the data channels); closed: the member closed it.
   */
  state: 'connecting' | 'connected' | 'reconnecting' | 'closed';
  /** When the current state began (ms since epoch); null before the first attempt. */
  since: number | null;
  /**
   * Training waits for the server: a step failed while it was away, and only the server can
   * change the membership. Cleared by the next completed step or membership.
   */
  paused: boolean;
}

/** The training data this worker fetched and holds (a tab fetches its shard by HTTP range requests). */
export interface DataStatus {
  /** Bytes of MNIST downloaded since the tab opened (read from disk in Node): answers whole, labels and headers included. */
  bytesDownloaded: number;
  /** Requests (reads) it took. */
  requests: number;
  /** Training examples held now: the shard. */
  trainExamples: number;
  /** Test examples held now: the evaluation subset. */
  testExamples: number;
  /** builtin: a shard of the task's training set; local: files chosen in this tab (`data=local`), which never leave it. */
  source?: 'builtin' | 'local';
  /** Training examples of the data: the task's whole training set (builtin; the shard is `trainExamples`), or the local files'. */
  examples?: number;
  /** The task's number of classes (labels 0 to classes - 1). */
  classes?: number;
  /** Local data only: its examples per class, and the files they came from. */
  classCounts?: number[];
  files?: string[];
}

export interface TabStatus {
  peerId: string | null;
  room: string;
  /** Membership epoch this tab trains in. */
  epoch: number;
  /** The other members of the room (peer ids, sorted). */
  peers: string[];
  /** Members with an open data channel to this tab. */
  connectedPeers: string[];
  /** The tfjs backend really in use. */
  backend: string | null;
  /** Why the requested backend is not in use, if it is not. */
  backendFallback: string | null;
  step: number;
  loss: number | null;
  testAccuracy: number | null;
  weightsHash: string;
  /** Totals since the tab opened, every frame on every data channel counted. */
  bytesSent: number;
  bytesReceived: number;
  /** Bytes sent and received in the last step. */
  lastStepBytesSent: number;
  lastStepBytesReceived: number;
  /**
   * observing: an observer holds a copy of a run under way (it refreshes on request and at the
   * end); done: the run finished and this tab holds its final state (trained it, or, opening a
   * finished room, fetched it from a member). A finished room whose members all left is an
   * error: ModelUnavailableError, with the run's figures in `finished`. left: out of the room for
   * good (the volunteer left or declined, or the organiser removed it; `left` says which).
   */
  state: 'connecting' | 'training' | 'observing' | 'done' | 'error' | 'left';
  error: string | null;
  config: RunConfig | null;
  /** What the room's configuration costs each member, as the server estimated it at join (estimateCost). */
  cost?: ConfigCost | null;
  compressor: string | null;
  /** fp32 ring bytes per step over this compressor's (declared), e.g. 37 for PowerSGD rank 4. */
  compressionRatio: number | null;
  /** Steps per second over the last 10 steps. */
  stepsPerSecond: number | null;
  events: SessionEvent[];
  /** Milliseconds from the last failed step to the next completed one (peer left, timeout, resync). */
  lastRecoveryMs: number | null;
  /** How this tab shapes what it sends (URL `bandwidth`, `latency`, `jitter`, `loss`); null if it does not. */
  link: LinkSettings | null;
  /** The signaling server connection (the peers' channels are `connectedPeers`). */
  signaling: SignalingStatus;
  /** The path to each of `connectedPeers`, in that order: direct or through TURN, and its round trip. */
  peerPaths: PeerPath[];
  /** The round mode and how its rounds go (absent before a session exists). */
  rounds?: RoundStatus;
  /** The training data fetched and held; null before it is opened. */
  data: DataStatus | null;
  /** The task the current session trains (`mnist-mlp`, `mnist-cnn` or a caller's own); absent before the first session. */
  task?: string;
  /** member: trains; observer: follows the room without training (`role=observer`, or a finished room). Absent before joining. */
  role?: JoinRole;
  /** The room's finished run as the server recorded it (its members' majority), or null while it runs. */
  finished?: FinishedRun | null;
  /** The room's observers (peer ids), as members see them. */
  observers?: string[];
  /** The room is an organiser's: its configuration is fixed by the server, this tab's keys are ignored. */
  organised?: boolean;
  /** Configuration keys this tab proposed (URL, flags) that the room's configuration does not follow. */
  ignoredKeys?: string[];
  /** What this tab was asked before anything heavy started, and its answer; null if nothing was asked. */
  consent?: ConsentStatus | null;
  /** Why this tab is out of its room for good (state `left`); null while it is not. */
  left?: string | null;
}

/**
 * A volunteer's consent, asked before the data download and the backend's warm-up: in an
 * organiser's room, and for a configuration heavier than the server's threshold.
 */
export interface ConsentStatus {
  /** asking: the page waits for Join or Leave; given: Join, or the URL's `join=ok`; declined: Leave. */
  state: 'asking' | 'given' | 'declined';
  /** Why it is asked (an organiser's room, a heavy configuration). */
  reasons: string[];
  /** Roughly what joining downloads (estimateDownloadBytes at the room's member count). */
  downloadBytes: number;
}

/** What a tab exposes to tests and tools. */
export interface TabswarmApi {
  status(): TabStatus;
  /** Every step's record: loss, accuracy where measured, bytes, time per phase. */
  history(): readonly StepRecord[];
  /**
   * Downloads the model this tab holds in TensorFlow.js's Layers format: `<room>-step<N>.json`
   * and its weights file, loadable with `tf.loadLayersModel`. Resolves with what was written.
   */
  downloadModel?(): Promise<ModelDownload>;
  /** An observer fetches the room's current state again (a member's, verified). */
  refresh?(): Promise<void>;
}

/** What downloadModel wrote. */
export interface ModelDownload {
  files: string[];
  step: number;
  weightsHash: string;
}
