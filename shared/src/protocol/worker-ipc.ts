/**
 * What a Node worker forked with an IPC channel (by the swarm CLI) tells its parent, and what the
 * parent may tell it. Step records travel once each: every report carries only the records
 * since the previous one.
 */
import type { StepRecord, TabStatus } from './status.ts';

export interface WorkerReport {
  type: 'report';
  status: TabStatus;
  /** Records of the steps finished since the last report, in order. */
  records: StepRecord[];
}

export interface StopRequest {
  type: 'stop';
}

export type WorkerMessage = WorkerReport;
export type ParentMessage = StopRequest;

export function isWorkerReport(value: unknown): value is WorkerReport {
  const v = value as Partial<WorkerReport> | null;
  return typeof v === 'object' && v !== null && v.type === 'report' && typeof v.status === 'object' && Array.isArray(v.records);
}

export function isStopRequest(value: unknown): value is StopRequest {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'stop';
}
