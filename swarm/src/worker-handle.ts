/** One launched worker, whatever runs it: its latest status and every step record so far. */
import type { StepRecord } from '../../shared/src/train/session.ts';
import type { TabStatus } from '../../client/src/status.ts';
import type { WorkerMetrics, WorkerRuntime } from './metrics.ts';

export interface WorkerHandle {
  readonly index: number;
  readonly runtime: WorkerRuntime;
  /** Null until the worker first reports. */
  readonly status: TabStatus | null;
  readonly records: readonly StepRecord[];
  /** Why the worker is gone (its process exited, its page crashed), if it is. */
  readonly failure: string | null;
  /** Brings status and records up to date (tabs are polled; Node workers push). */
  refresh(): Promise<void>;
  /** Collects the last records and ends the worker. Idempotent. */
  stop(): Promise<void>;
}

export function workerMetrics(handle: WorkerHandle): WorkerMetrics {
  const s = handle.status;
  return {
    index: handle.index,
    runtime: handle.runtime,
    peerId: s?.peerId ?? null,
    backend: s?.backend ?? null,
    state: handle.failure ? 'error' : (s?.state ?? 'connecting'),
    error: handle.failure ?? s?.error ?? null,
    step: s?.step ?? 0,
    weightsHash: s?.weightsHash ?? '',
    records: [...handle.records],
    events: s?.events ?? [],
  };
}
