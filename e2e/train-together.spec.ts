/**
 * Three tabs, one room, real WebRTC: they train the MNIST MLP together and stay identical; then
 * the same run with PowerSGD, side by side, for accuracy and bytes.
 */
import { expect, test } from '@playwright/test';
import type { StepRecord } from '@tabswarm/shared/protocol';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const TABS = 3;
const STEPS = 40;
const MLP_PARAMETERS = 784 * 256 + 256 + 256 * 10 + 10;

test.describe.configure({ mode: 'serial' });

/** Accuracy of the uncompressed run, the baseline of the compressed one. */
let baselineAccuracy: number | undefined;
let baselineBytesPerStep: number | undefined;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Medians over the tabs' steady steps (from step 6 on): each phase, the step's own total, the wall
 * time between consecutive records, the time between steps (that wall time minus the step's total;
 * its mean too), and the share of compress + communicate in the total.
 */
function phases(histories: StepRecord[][]): string {
  const steady = histories.flatMap((h) => h.filter((r) => r.step > 5 && r.step % 10 !== 0));
  const wall = histories.flatMap((h) => h.flatMap((r, i) => (i > 0 && r.step > 5 ? [r.time - h[i - 1]!.time] : [])));
  // Time between steps: wall time from the last record to this one, minus this step's total.
  const gaps = histories.flatMap((h) => h.flatMap((r, i) => (i > 0 && r.step > 5 ? [r.time - h[i - 1]!.time - r.ms.total] : [])));
  const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const m = (key: keyof StepRecord['ms']): number => median(steady.map((r) => r.ms[key]));
  const share = median(steady.map((r) => (r.ms.compress + r.ms.communicate) / r.ms.total));
  const sum = m('compute') + m('compress') + m('communicate') + m('apply');
  return `ms: compute ${m('compute').toFixed(1)}, compress ${m('compress').toFixed(1)}, communicate ${m('communicate').toFixed(1)}, apply ${m('apply').toFixed(1)} (sum ${sum.toFixed(1)}), step total ${m('total').toFixed(1)}, wall per step ${median(wall).toFixed(1)}, between steps ${median(gaps).toFixed(1)} (mean ${meanGap.toFixed(1)}); compress+communicate share ${(100 * share).toFixed(1)} %`;
}

test('three tabs train MNIST together over WebRTC with identical replicas', async ({ browser }) => {
  const room = uniqueRoom('e2e');
  const started = Date.now();
  const pages = await openTabs(browser, TABS, `room=${room}&workers=${TABS}&steps=${STEPS}&evalEvery=10&model=mlp`);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  const seconds = (Date.now() - started) / 1000;

  // Every tab is at the same step with the same weights, and knows the others.
  for (const s of statuses) {
    expect(s.step).toBe(STEPS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.peers).toHaveLength(TABS - 1);
    expect(s.backend).toBe('webgl');
    expect(s.backendFallback).toBeNull();
  }
  expect(statuses[0]!.testAccuracy).toBeGreaterThanOrEqual(0.8);
  // Each tab downloaded every label, its shard and the evaluation subset (by range), not the data set.
  const wanted = (60_000 / TABS + 1000) * 784;
  for (const s of statuses) {
    expect(s.data).toMatchObject({ trainExamples: 60_000 / TABS, testExamples: 1000 });
    expect(s.data!.bytesDownloaded).toBeGreaterThan(wanted);
    expect(s.data!.bytesDownloaded, 'images wanted + labels + multipart overhead').toBeLessThan(1.15 * wanted + 70_016);
  }

  // Loss went down: the mean of the last five steps is well below the first five.
  const history = await historyOf(pages[0]!);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(history.slice(-5).map((r) => r.loss))).toBeLessThan(0.6 * mean(history.slice(0, 5).map((r) => r.loss)));

  // Every tab recorded every step, so the checks below compare full histories.
  const histories = await Promise.all(pages.map(historyOf));
  const allSteps = Array.from({ length: STEPS }, (_, i) => i + 1);
  histories.forEach((h, i) => expect(h.map((r) => r.step), `steps recorded by tab ${i}`).toEqual(allSteps));
  // Bytes: a ring all-reduce sends 2(N-1)/N of the model per step: the payload within 0.1 %
  // (segments differ by a value at most), the frames with their headers too.
  const theory = ((2 * (TABS - 1)) / TABS) * 4 * MLP_PARAMETERS;
  for (const h of histories) {
    for (const r of h.slice(1)) {
      expect(Math.abs(r.payloadBytesSent - theory) / theory, `step ${r.step} payload`).toBeLessThan(0.001);
      expect(Math.abs(r.bytesSent - theory) / theory, `step ${r.step} frames`).toBeLessThan(0.001);
    }
  }
  // Replicas agree at every step, not only at the end.
  for (const h of histories) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));

  baselineAccuracy = statuses[0]!.testAccuracy!;
  baselineBytesPerStep = median(history.map((r) => r.bytesSent));
  const steady = history.slice(5);
  const stepsPerSecond = (steady.length - 1) / ((steady.at(-1)!.time - steady[0]!.time) / 1000);
  console.log(`fp32: 3 tabs on ${statuses[0]!.backend}, ${STEPS} steps in ${seconds.toFixed(1)} s wall incl. start-up; steady ${stepsPerSecond.toFixed(2)} steps/s; bytes/step ${baselineBytesPerStep} vs theory ${theory.toFixed(0)}; accuracy ${baselineAccuracy}; downloaded per tab ${statuses.map((s) => s.data!.bytesDownloaded).join(', ')} bytes`);
  console.log(`fp32 ${phases(histories)}`);
  await pages[0]!.context().close();
});

test('PowerSGD rank 4 with error feedback: at least 0.95 of the accuracy with at least 20x fewer bytes', async ({ browser }) => {
  expect(baselineAccuracy, 'the uncompressed run of this file is the baseline').toBeDefined();
  const room = uniqueRoom('e2e-powersgd');
  const pages = await openTabs(browser, TABS, `room=${room}&workers=${TABS}&steps=${STEPS}&evalEvery=10&model=mlp&compressor=powersgd&rank=4&ef=ef14`);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  for (const s of statuses) {
    expect(s.step).toBe(STEPS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.compressor).toContain('powersgd');
  }
  const history = await historyOf(pages[0]!);
  expect(history, 'one record per step').toHaveLength(STEPS);
  const bytesPerStep = median(history.map((r) => r.bytesSent));
  const accuracy = statuses[0]!.testAccuracy!;
  // Bytes as declared: the ring's 2(N-1)/N of PowerSGD's messages, within 0.1 % on every tab and
  // step (but the replica check's, every 10th, which also sends the weights hash to each peer).
  const declared = ((2 * (TABS - 1)) / TABS) * 4 * MLP_PARAMETERS / statuses[0]!.compressionRatio!;
  const histories = await Promise.all(pages.map(historyOf));
  for (const h of histories) {
    for (const r of h.slice(1).filter((r) => r.step % 10 !== 0)) expect(Math.abs(r.payloadBytesSent - declared) / declared, `step ${r.step}: ${r.payloadBytesSent} vs ${declared}`).toBeLessThan(0.001);
  }
  console.log(`powersgd payload/step ${median(history.map((r) => r.payloadBytesSent))} vs declared ${declared.toFixed(1)}; ${phases(histories)}`);
  console.log(`powersgd rank 4: accuracy ${accuracy} vs ${baselineAccuracy}; bytes/step ${bytesPerStep} vs ${baselineBytesPerStep} (${(baselineBytesPerStep! / bytesPerStep).toFixed(1)}x fewer); declared ratio ${statuses[0]!.compressionRatio?.toFixed(1)}`);
  expect(accuracy).toBeGreaterThanOrEqual(0.95 * baselineAccuracy!);
  expect(baselineBytesPerStep! / bytesPerStep).toBeGreaterThanOrEqual(20);
  await pages[0]!.context().close();
});
