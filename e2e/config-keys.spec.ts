/**
 * Three tabs train with the keys that reach the aggregator options beyond the codec:
 * `powersgdRounds=1` (PowerSGD alternating P and Q, one all-reduce per step) and `perturb` (the
 * shared-seed noise). Both must keep the replicas bit-identical, and the bytes must alternate
 * between the P and the Q message as docs/ALGORITHMS.md (PowerSGD) says.
 */
import { expect, test } from '@playwright/test';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const TABS = 3;
const STEPS = 30;
const RANK = 4;
/** The MLP's layers as PowerSGD sees them: [784, 256] and [256, 10] compressed, the biases dense. */
const DENSE = 256 + 10;
const P_VALUES = RANK * (784 + 256);
const Q_VALUES = RANK * (256 + 10);
/** From three members on every all-reduce rides the ring: each member sends 2(N-1)/N of its input. */
const sentFor = (bytes: number): number => ((2 * (TABS - 1)) / TABS) * bytes;

test('powersgdRounds=1 with perturb: three tabs train with identical replicas and one round per step', async ({ browser }) => {
  const room = uniqueRoom('e2e-keys');
  const query = `room=${room}&workers=${TABS}&steps=${STEPS}&evalEvery=10&model=mlp&compressor=powersgd&rank=${RANK}&powersgdRounds=1&perturb=0.0005`;
  const pages = await openTabs(browser, TABS, query);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  for (const s of statuses) {
    expect(s.step).toBe(STEPS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.compressor).toBe('powersgd-1round+perturb');
  }
  const histories = await Promise.all(pages.map(historyOf));
  for (const h of histories) {
    expect(h.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
  }

  // Even steps (collective step 0, 2, ...) send P, odd ones Q: one all-reduce each.
  const pStep = sentFor(4 * (DENSE + P_VALUES));
  const qStep = sentFor(4 * (DENSE + Q_VALUES));
  const history = histories[0]!;
  for (const r of history) {
    const expected = (r.step - 1) % 2 === 0 ? pStep : qStep;
    expect(Math.abs(r.payloadBytesSent - expected) / expected, `payload of step ${r.step}: ${r.payloadBytesSent} vs ${expected}`).toBeLessThan(0.01);
  }

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(history.slice(0, 5).map((r) => r.loss));
  const last = mean(history.slice(-5).map((r) => r.loss));
  const accuracy = statuses[0]!.testAccuracy!;
  console.log(`powersgd 1 round + perturb: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, accuracy ${accuracy}, bytes/step P ${history[0]!.bytesSent} Q ${history[1]!.bytesSent}`);
  expect(last).toBeLessThan(0.6 * first);
  expect(accuracy).toBeGreaterThanOrEqual(0.7);
  await pages[0]!.context().close();
});
