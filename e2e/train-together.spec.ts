/**
 * Three tabs, one room, real WebRTC: they train the MNIST MLP together and stay identical.
 */
import { expect, test } from '@playwright/test';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const TABS = 3;
const STEPS = 40;

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

  // Loss went down: the mean of the last five steps is well below the first five.
  const history = await historyOf(pages[0]!);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(history.slice(0, 5).map((r) => r.loss));
  const last = mean(history.slice(-5).map((r) => r.loss));
  expect(last).toBeLessThan(0.6 * first);

  // Bytes: a ring all-reduce sends 2(N-1)/N of the model per step.
  const modelBytes = 4 * (784 * 256 + 256 + 256 * 10 + 10);
  const theory = (2 * (TABS - 1) / TABS) * modelBytes;
  for (const page of pages) {
    const steps = (await historyOf(page)).slice(1); // the first step may include connection set-up
    for (const r of steps) expect(Math.abs(r.bytesSent - theory) / theory).toBeLessThan(0.05);
  }
  const sps = STEPS / seconds;
  console.log(`3 tabs: ${STEPS} steps in ${seconds.toFixed(1)} s wall (incl. start-up), bytes/step ${history.at(-1)!.bytesSent} vs theory ${theory.toFixed(0)}, accuracy ${statuses[0]!.testAccuracy}, ${sps.toFixed(2)} steps/s`);
});
