import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StepRecord } from '@tabswarm/shared/protocol';
import { accuracyCurve, summarize, type RunMetrics, type WorkerMetrics } from './metrics.ts';

function record(step: number, time: number, extra: Partial<StepRecord> = {}): StepRecord {
  return {
    step, epoch: 1, peers: 2, loss: 1 / step, bytesSent: 1000, bytesReceived: 1000,
    ms: { compute: 10, communicate: 20, apply: 5, total: 40 }, time, ...extra,
  } as StepRecord;
}

function worker(index: number, records: StepRecord[], hash = 'h'): WorkerMetrics {
  return { index, runtime: 'node', peerId: `p${index}`, backend: 'cpu', state: 'done', error: null, step: records.at(-1)?.step ?? 0, weightsHash: hash, records, events: [] };
}

function metrics(workers: WorkerMetrics[], target: number | null): RunMetrics {
  return { format: 'tabswarm-metrics/1', command: 'x', runtime: 'node', target, config: null, link: { bandwidth: '10mbit' }, startedAt: 0, endedAt: 5000, stopReason: 'target', error: null, workers };
}

test('time, steps and bytes to the target come from the first step at the target', () => {
  // Training starts at 1000 - 40 ms (the first record ends at 1000 after a 40 ms step).
  const a = [record(1, 1000), record(2, 1100, { testAccuracy: 0.5 }), record(3, 1200), record(4, 1300, { testAccuracy: 0.96 }), record(5, 1400)];
  const b = [record(1, 1010), record(2, 1105, { testAccuracy: 0.5 }), record(3, 1210), record(4, 1290, { testAccuracy: 0.96 })];
  const s = summarize(metrics([worker(0, a), worker(1, b)], 0.95));
  assert.equal(s.reachedTarget, true);
  assert.equal(s.stepsToTarget, 4);
  assert.ok(Math.abs(s.secondsToTarget! - (1290 - 960) / 1000) < 1e-9);
  assert.equal(s.bytesToTarget, 4000);
  assert.equal(s.totalBytesToTarget, 8000);
  assert.equal(s.steps, 4);
  assert.equal(s.finalAccuracy, 0.96);
  assert.equal(s.identicalWeights, null, 'workers at different steps cannot be compared');
  assert.equal(s.meanStepMs.compute, 10);
  assert.equal(s.meanStepMs.compress, 0);
  assert.equal(s.bystanderCores, null, 'no throttled page beside the room');
  const beside = summarize({ ...metrics([worker(0, a)], 0.95), bystander: { rate: 16, cpuSeconds: 9, seconds: 10 } });
  assert.equal(beside.bystanderCores, 0.9);
});

test('a target never reached, a compress time, and differing hashes', () => {
  const a = [record(1, 1000, { testAccuracy: 0.3 }), record(2, 1100, { testAccuracy: 0.4, ms: { compute: 1, compress: 7, communicate: 2, apply: 3, total: 13 } as StepRecord['ms'] })];
  const s = summarize(metrics([worker(0, a, 'x'), worker(1, a, 'y')], 0.95));
  assert.equal(s.reachedTarget, false);
  assert.equal(s.stepsToTarget, null);
  assert.equal(s.secondsToTarget, null);
  assert.equal(s.identicalWeights, false);
  assert.equal(s.meanStepMs.compress, 7);
  assert.deepEqual(accuracyCurve([worker(0, a)]).map((p) => p.accuracy), [0.3, 0.4]);
});

test('an empty run summarizes to nothing rather than failing', () => {
  const s = summarize(metrics([worker(0, [], '')], 0.9));
  assert.equal(s.steps, 0);
  assert.equal(s.stepsPerSecond, null);
  assert.equal(s.finalAccuracy, null);
  assert.equal(s.identicalWeights, false);
});
