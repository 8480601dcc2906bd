/**
 * `window.tabswarm.status()`: the tab's state for tests and tools. A stable interface: fields are
 * added, never renamed or removed.
 */
import type { LinkSettings } from '../../shared/src/link.ts';
import type { RunConfig } from '../../shared/src/train/config.ts';
import type { SessionEvent, StepRecord } from '../../shared/src/train/session.ts';

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
  state: 'connecting' | 'training' | 'done' | 'error';
  error: string | null;
  config: RunConfig | null;
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
}

/** What a tab exposes to tests and tools. */
export interface TabswarmApi {
  status(): TabStatus;
  /** Every step's record: loss, accuracy where measured, bytes, time per phase. */
  history(): readonly StepRecord[];
}

declare global {
  interface Window {
    tabswarm: TabswarmApi;
  }
}
