/** One launched worker, whatever runs it: its latest status and every step record so far. */
import type { StepRecord, TabStatus } from '@tabswarm/shared/protocol';

export interface WorkerHandle {
  readonly index: number;
  readonly runtime: 'node' | 'chromium';
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
