/**
 * A worker started from code: a task, a signaling URL and a room, and it trains with whoever else
 * is in that room. The same function runs it in a tab (tab-worker.ts) and in Node
 * (node/start-node-worker.ts); they differ only in how tfjs and WebRTC start. The page itself and
 * the Node worker CLI are two such callers.
 */
import type { JoinRole, RunConfig, SessionEvent, StepRecord, TabStatus } from '@tabswarm/shared/protocol';
import type { Task } from '@tabswarm/shared';
import type { BackendChoice, BackendExclusion } from './backend.ts';
import type { ConsentRequest } from './consent.ts';
import { RoomMember, type RoomMemberOptions } from './room-member.ts';

export interface WorkerInit {
  /** What to train: one task, or a choice by the room's configuration (`builtinTasks`: by its `model` key). */
  task: Task | ((config: RunConfig) => Task);
  room: string;
  /** The signaling server. @default the page's own origin (in Node there is none: give it) */
  signalingUrl?: string;
  /**
   * Run configuration keys (used if this worker opens the room) and link keys, as a tab's URL
   * parameters (`{ steps: '50', compressor: 'powersgd' }`). @default {}
   */
  params?: Record<string, string>;
  /** Called after every change: a step, a membership, an event. */
  onUpdate?(worker: Worker): void;
  /** `observer`: follow the room without training (its state from a member, the model out). @default member */
  role?: JoinRole;
  /**
   * May this worker join an organiser's room or a configuration the server flags as heavy? Asked
   * before anything heavy starts. @default yes, without asking
   */
  askConsent?(request: ConsentRequest): Promise<boolean>;
  /** Train on data of the caller's own instead of a shard of the task's (the page's `data=local`): RoomMemberOptions.localData. */
  localData?: RoomMemberOptions['localData'];
}

/** How a platform starts tfjs and WebRTC. */
export interface WorkerPlatform {
  startBackend(exclude?: BackendExclusion): Promise<BackendChoice>;
  /** simple-peer's `wrtc` where the platform has no WebRTC of its own (Node). */
  wrtc?: unknown;
}

export interface Worker {
  /** Everything the worker knows now, as `window.tabswarm.status()` gives it in a tab. */
  status(): TabStatus;
  /** One record per step trained in the current membership. */
  history(): readonly StepRecord[];
  /** Its latest events (joins, leaves, state transfers, aborted steps, errors). */
  events(): readonly SessionEvent[];
  /** Settles when training ends: the run is done, failed (see `status().error`) or stopped. */
  readonly finished: Promise<void>;
  /** Stops training and closes everything the worker opened; idempotent. status() still answers. */
  stop(): Promise<void>;
  /** Leaves the room for good (state `left`), as the page's Leave button does. */
  leave(): Promise<void>;
  /** An observer fetches the room's state again. */
  refresh(): Promise<void>;
  /** The model this worker holds in tfjs's Layers format (model.json + weights), with its step and hash. */
  exportModel(): ReturnType<RoomMember['exportModel']>;
}

export function startWorker(init: WorkerInit, platform: WorkerPlatform): Worker {
  const { task } = init;
  const member = new RoomMember(
    {
      room: init.room,
      signalingUrl: init.signalingUrl,
      params: init.params ?? {},
      startBackend: (exclude) => platform.startBackend(exclude),
      task: typeof task === 'function' ? task : () => task,
      ...(platform.wrtc !== undefined ? { wrtc: platform.wrtc } : {}),
      ...(init.role ? { role: init.role } : {}),
      ...(init.askConsent ? { askConsent: init.askConsent } : {}),
      ...(init.localData ? { localData: init.localData } : {}),
    },
    () => init.onUpdate?.(worker),
  );
  const worker: Worker = {
    status: () => member.status(),
    history: () => member.history(),
    events: () => member.status().events,
    // Started once `worker` exists: the member reports its first change only after an await.
    get finished() {
      return running;
    },
    stop: () => member.close(),
    leave: () => member.leave(),
    refresh: () => member.refresh(),
    exportModel: () => member.exportModel(),
  };
  const running = member.start();
  return worker;
}
