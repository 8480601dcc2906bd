/**
 * What a swarm run measured, and what it comes to: time, steps and bytes to the target accuracy.
 * Pure functions over the workers' step records, so the numbers in summary.json, the report page
 * and the sweep table are computed once, here, and tested.
 */
import type { WorkerHandle } from '@tabswarm/launch';
import type { LINK_KEYS, RunConfig, SessionEvent, StepRecord } from '@tabswarm/shared/protocol';

export const RUNTIMES = ['node', 'chromium', 'mixed'] as const;
export type Runtime = (typeof RUNTIMES)[number];
export type WorkerRuntime = Exclude<Runtime, 'mixed'>;

/** Link keys, as a tab reads them from its URL and a Node worker from its flags (shared/src/link.ts). */
export type LinkKey = (typeof LINK_KEYS)[number];
export type Link = Partial<Record<LinkKey, string>>;

export type StopReason = 'target' | 'steps' | 'timeout' | 'error' | 'interrupted';

export interface WorkerMetrics {
  index: number;
  runtime: WorkerRuntime;
  peerId: string | null;
  /** The tfjs backend really in use. */
  backend: string | null;
  /** The task it trained (`mnist-mlp`, or a task module's name); absent in older reports. */
  task?: string;
  state: string;
  error: string | null;
  step: number;
  weightsHash: string;
  /** One record per finished step, as the worker's session wrote it. */
  records: StepRecord[];
  /** The worker's last events (joins, aborted steps, state transfers, errors). */
  events: SessionEvent[];
}

/** metrics.json */
export interface RunMetrics {
  format: 'tabswarm-metrics/1';
  /** The command that made this run. */
  command: string;
  runtime: Runtime;
  /** Test accuracy to stop at, if any. */
  target: number | null;
  /** The room's run configuration as the workers received it. */
  config: RunConfig | null;
  link: Link;
  /** Wall-clock times, ms since the epoch. */
  startedAt: number;
  endedAt: number;
  stopReason: StopReason;
  error: string | null;
  workers: WorkerMetrics[];
  /** The throttled page beside the room (`--bystander`), if any, and the CPU it used over the run. */
  bystander?: BystanderMetrics;
}

export interface BystanderMetrics {
  rate: number;
  cpuSeconds: number;
  /** Wall seconds it was open for. */
  seconds: number;
}

export interface PhaseMs {
  compute: number;
  /** Zero while the session does not time compression apart from communication. */
  compress: number;
  communicate: number;
  apply: number;
  total: number;
}

/** summary.json */
export interface RunSummary {
  workers: number;
  runtime: Runtime;
  compressor: string | null;
  link: Link;
  target: number | null;
  reachedTarget: boolean;
  /** The first step whose test accuracy is at least the target. */
  stepsToTarget: number | null;
  /** From the start of the first step to the end of that step. */
  secondsToTarget: number | null;
  /** Bytes sent per worker (mean over workers) up to and including that step. */
  bytesToTarget: number | null;
  /** Bytes sent by all workers together up to and including that step. */
  totalBytesToTarget: number | null;
  /** Highest step every worker finished. */
  steps: number;
  finalAccuracy: number | null;
  bestAccuracy: number | null;
  /** From the start of the first step to the end of the last one. */
  trainingSeconds: number;
  /** From launch to stop, start-up included. */
  wallSeconds: number;
  stepsPerSecond: number | null;
  /** Mean over workers and steps (the first step, which includes warm-up, left out when there are more). */
  meanStepMs: PhaseMs;
  /** Mean bytes one worker sends per step. */
  bytesPerStep: number | null;
  /**
   * Every worker holds the same weights hash; null when they ended at different steps (a run
   * stopped at its target may catch some workers one step further), so there is nothing to compare.
   */
  identicalWeights: boolean | null;
  /** Cores the throttled page beside the room (`--bystander`) kept busy on average; null without one. */
  bystanderCores: number | null;
  stopReason: StopReason;
  error: string | null;
}

/** The compress time of a record, once the session measures it apart (`ms.compress`). */
export function compressMs(record: StepRecord): number {
  const value = (record.ms as { compress?: unknown }).compress;
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** When the first step of the run began (ms since the epoch): the earliest over workers. */
export function trainingStart(workers: readonly WorkerMetrics[]): number | null {
  let start: number | null = null;
  for (const w of workers) {
    const first = w.records[0];
    if (!first) continue;
    const began = first.time - first.ms.total;
    if (start === null || began < start) start = began;
  }
  return start;
}

/** One point per step where test accuracy was measured (the same on every worker: weights are identical). */
export interface AccuracyPoint {
  step: number;
  accuracy: number;
  /** Seconds since the training start, at the end of this step (the earliest worker). */
  seconds: number;
  /** Bytes sent per worker (mean) up to and including this step. */
  bytes: number;
}

export function accuracyCurve(workers: readonly WorkerMetrics[]): AccuracyPoint[] {
  const start = trainingStart(workers);
  if (start === null) return [];
  const byStep = new Map<number, { accuracy: number; time: number }>();
  for (const w of workers) {
    for (const r of w.records) {
      if (r.testAccuracy === undefined) continue;
      const seen = byStep.get(r.step);
      if (!seen || r.time < seen.time) byStep.set(r.step, { accuracy: r.testAccuracy, time: r.time });
    }
  }
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const bytes = cumulativeBytesAt(workers, steps);
  return steps.map((step, i) => ({ step, accuracy: byStep.get(step)!.accuracy, seconds: (byStep.get(step)!.time - start) / 1000, bytes: bytes[i]! }));
}

/** Mean over workers of the bytes sent up to and including each of `steps` (ascending). */
function cumulativeBytesAt(workers: readonly WorkerMetrics[], steps: readonly number[]): number[] {
  const totals = steps.map(() => 0);
  for (const w of workers) {
    let sum = 0;
    let j = 0;
    const records = [...w.records].sort((a, b) => a.step - b.step);
    for (let i = 0; i < steps.length; i++) {
      while (j < records.length && records[j]!.step <= steps[i]!) sum += records[j++]!.bytesSent;
      totals[i]! += sum;
    }
  }
  return totals.map((t) => (workers.length ? t / workers.length : 0));
}

/** The mean of each phase over every worker's steps; the first step is left out when there are more. */
export function meanPhases(workers: readonly WorkerMetrics[]): PhaseMs {
  const sum: PhaseMs = { compute: 0, compress: 0, communicate: 0, apply: 0, total: 0 };
  let n = 0;
  for (const w of workers) {
    for (const r of w.records.length > 1 ? w.records.slice(1) : w.records) {
      sum.compute += r.ms.compute;
      sum.compress += compressMs(r);
      sum.communicate += r.ms.communicate;
      sum.apply += r.ms.apply;
      sum.total += r.ms.total;
      n++;
    }
  }
  if (n === 0) return sum;
  return { compute: sum.compute / n, compress: sum.compress / n, communicate: sum.communicate / n, apply: sum.apply / n, total: sum.total / n };
}

/** Per step, the mean of each phase over the workers that finished it. */
export function phasesPerStep(workers: readonly WorkerMetrics[]): Array<PhaseMs & { step: number }> {
  const byStep = new Map<number, { sum: PhaseMs; n: number }>();
  for (const w of workers) {
    for (const r of w.records) {
      const entry = byStep.get(r.step) ?? { sum: { compute: 0, compress: 0, communicate: 0, apply: 0, total: 0 }, n: 0 };
      entry.sum.compute += r.ms.compute;
      entry.sum.compress += compressMs(r);
      entry.sum.communicate += r.ms.communicate;
      entry.sum.apply += r.ms.apply;
      entry.sum.total += r.ms.total;
      entry.n++;
      byStep.set(r.step, entry);
    }
  }
  return [...byStep.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, { sum, n }]) => ({
      step,
      compute: sum.compute / n,
      compress: sum.compress / n,
      communicate: sum.communicate / n,
      apply: sum.apply / n,
      total: sum.total / n,
    }));
}

export function summarize(metrics: RunMetrics): RunSummary {
  const { workers } = metrics;
  const start = trainingStart(workers);
  const curve = accuracyCurve(workers);
  const hit = metrics.target === null ? undefined : curve.find((p) => p.accuracy >= metrics.target!);
  const steps = workers.length ? Math.min(...workers.map((w) => w.records.at(-1)?.step ?? 0)) : 0;
  const lastTime = Math.max(0, ...workers.map((w) => w.records.at(-1)?.time ?? 0));
  const trainingSeconds = start === null ? 0 : Math.max(0, (lastTime - start) / 1000);
  const recordCount = workers.reduce((n, w) => n + w.records.length, 0);
  const bytesSent = workers.reduce((n, w) => n + w.records.reduce((m, r) => m + r.bytesSent, 0), 0);
  return {
    workers: workers.length,
    runtime: metrics.runtime,
    compressor: metrics.config?.compressor ?? null,
    link: metrics.link,
    target: metrics.target,
    reachedTarget: hit !== undefined,
    stepsToTarget: hit?.step ?? null,
    secondsToTarget: hit?.seconds ?? null,
    bytesToTarget: hit?.bytes ?? null,
    totalBytesToTarget: hit ? hit.bytes * workers.length : null,
    steps,
    finalAccuracy: curve.at(-1)?.accuracy ?? null,
    bestAccuracy: curve.length ? Math.max(...curve.map((p) => p.accuracy)) : null,
    trainingSeconds,
    wallSeconds: (metrics.endedAt - metrics.startedAt) / 1000,
    stepsPerSecond: trainingSeconds > 0 && steps > 0 ? steps / trainingSeconds : null,
    meanStepMs: meanPhases(workers),
    bytesPerStep: recordCount ? bytesSent / recordCount : null,
    identicalWeights: identicalWeights(workers),
    bystanderCores: metrics.bystander && metrics.bystander.seconds > 0 ? metrics.bystander.cpuSeconds / metrics.bystander.seconds : null,
    stopReason: metrics.stopReason,
    error: metrics.error,
  };
}

/** First step with test accuracy at least `target` seen in any worker's records, or null. */
export function firstStepAtTarget(records: Iterable<StepRecord>, target: number): number | null {
  let best: number | null = null;
  for (const r of records) {
    if (r.testAccuracy !== undefined && r.testAccuracy >= target && (best === null || r.step < best)) best = r.step;
  }
  return best;
}

function identicalWeights(workers: readonly WorkerMetrics[]): boolean | null {
  const first = workers[0];
  if (!first || workers.some((w) => w.step !== first.step)) return null;
  return workers.every((w) => w.weightsHash !== '' && w.weightsHash === first.weightsHash);
}

/** What the run's metrics keep of one worker. */
export function workerMetrics(handle: WorkerHandle): WorkerMetrics {
  const s = handle.status;
  return {
    index: handle.index,
    runtime: handle.runtime,
    peerId: s?.peerId ?? null,
    backend: s?.backend ?? null,
    ...(s?.task !== undefined ? { task: s.task } : {}),
    state: handle.failure ? 'error' : (s?.state ?? 'connecting'),
    error: handle.failure ?? s?.error ?? null,
    step: s?.step ?? 0,
    weightsHash: s?.weightsHash ?? '',
    records: [...handle.records],
    events: s?.events ?? [],
  };
}
