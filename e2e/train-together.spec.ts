/**
 * Three tabs, one room, real WebRTC: they train the MNIST MLP together and stay identical; then
 * the same run with PowerSGD, side by side, for accuracy and bytes.
 */
import { expect, test } from '@playwright/test';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const TABS = 3;
const STEPS = 40;
const MLP_PARAMETERS = 784 * 256 + 256 + 256 * 10 + 10;

test.describe.configure({ mode: 'serial' });

/** Accuracy of the uncompressed run, the baseline of the compressed one. */
let baselineAccuracy: number | undefined;
let baselineBytesPerStep: number | undefined;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  // Bytes: a ring all-reduce sends 2(N-1)/N of the model per step.
  const theory = ((2 * (TABS - 1)) / TABS) * 4 * MLP_PARAMETERS;
  for (const h of histories) {
    for (const r of h.slice(1)) expect(Math.abs(r.bytesSent - theory) / theory).toBeLessThan(0.05);
  }
  // Replicas agree at every step, not only at the end.
  for (const h of histories) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));

  baselineAccuracy = statuses[0]!.testAccuracy!;
  baselineBytesPerStep = median(history.map((r) => r.bytesSent));
  const steady = history.slice(5);
  const stepsPerSecond = (steady.length - 1) / ((steady.at(-1)!.time - steady[0]!.time) / 1000);
  console.log(`fp32: 3 tabs on ${statuses[0]!.backend}, ${STEPS} steps in ${seconds.toFixed(1)} s wall incl. start-up; steady ${stepsPerSecond.toFixed(2)} steps/s; bytes/step ${baselineBytesPerStep} vs theory ${theory.toFixed(0)}; accuracy ${baselineAccuracy}; downloaded per tab ${statuses.map((s) => s.data!.bytesDownloaded).join(', ')} bytes`);
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
  console.log(`powersgd rank 4: accuracy ${accuracy} vs ${baselineAccuracy}; bytes/step ${bytesPerStep} vs ${baselineBytesPerStep} (${(baselineBytesPerStep! / bytesPerStep).toFixed(1)}x fewer); declared ratio ${statuses[0]!.compressionRatio?.toFixed(1)}`);
  expect(accuracy).toBeGreaterThanOrEqual(0.95 * baselineAccuracy!);
  expect(baselineBytesPerStep! / bytesPerStep).toBeGreaterThanOrEqual(20);
  await pages[0]!.context().close();
});
