/**
 * Tabs on different tfjs backends train together: their local gradients differ in the last bits,
 * but everything after the all-reduce is deterministic TypeScript, so the replicas stay identical.
 */
import { expect, test } from '@playwright/test';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

test('webgl, wasm and cpu tabs train one model with identical weights', async ({ browser }) => {
  const room = uniqueRoom('backends');
  const steps = 12;
  const common = `room=${room}&workers=3&steps=${steps}&evalEvery=6&model=mlp`;
  const backends = ['webgl', 'wasm', 'cpu'];
  const pages = await openTabs(browser, backends.length, (i) => `${common}&backend=${backends[i]}`);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 3 * 60_000);
  expect(statuses.map((s) => s.backend)).toEqual(['webgl', 'wasm', 'cpu']);
  expect(statuses.map((s) => s.backendFallback)).toEqual([null, null, null]);
  const histories = await Promise.all(pages.map(historyOf));
  // Every tab recorded every step, so the hashes are compared at each one.
  histories.forEach((h, i) => expect(h.map((r) => r.step), `steps recorded by tab ${i}`).toEqual(Array.from({ length: steps }, (_, s) => s + 1)));
  for (const h of histories) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
  expect(statuses[0]!.testAccuracy).toBeGreaterThan(0.5);
  await pages[0]!.context().close();
});

test('a wasm tab in a cnn room falls back to another backend and says why', async ({ browser }) => {
  const room = uniqueRoom('cnn');
  const common = `room=${room}&workers=2&steps=4&evalEvery=4&evalSize=200&model=cnn&batchSize=16`;
  const pages = await openTabs(browser, 2, (i) => (i === 0 ? common : `${common}&backend=wasm`));
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 3 * 60_000);
  expect(statuses[1]!.backend).not.toBe('wasm');
  expect(statuses[1]!.backendFallback).toContain('Conv2DBackpropFilter');
  expect(statuses.map((s) => s.step)).toEqual([4, 4]);
  expect(statuses[1]!.weightsHash).toBe(statuses[0]!.weightsHash);
  expect(statuses[0]!.config?.model).toBe('cnn');
  await pages[0]!.context().close();
});
