/**
 * The round modes in three real tabs over WebRTC (wasm backend): `sync=accumulate` with one tab
 * slowed by Chromium's CPU throttling, whose rounds still end on time while it contributes fewer
 * micro-batches, summed by the two-shot all-reduce (which spares the other tabs the ring's 2(N-1)
 * passes through the throttled one); `sync=local` (DiLoCo) with PowerSGD on the pseudo-gradient,
 * over the ring, each round's inner steps overlapping the last round's exchange (`staleness=1`).
 * With `staleness=1`, `sync=accumulate` lets a tab too slow for the round (throttled 16x) sit every
 * other round out, computing meanwhile, and contribute its batch one round late.
 * Replicas are identical after every round in all three.
 */
import { expect, test, type Page } from '@playwright/test';
import type { StepRecord } from '@tabswarm/shared/protocol';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const TABS = 3;

test.describe.configure({ mode: 'serial' });

async function expectIdenticalRounds(pages: Page[], rounds: number): Promise<StepRecord[][]> {
  const histories = await Promise.all(pages.map(historyOf));
  for (const h of histories) {
    expect(h.map((r) => r.step)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
    expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
  }
  return histories;
}

test('sync=accumulate: a throttled tab contributes nothing while its shard loads, then fewer micro-batches; replicas identical after every round', async ({ browser }) => {
  const ROUNDS = 20;
  const room = uniqueRoom('e2e-accumulate');
  const query = `room=${room}&workers=${TABS}&steps=${ROUNDS}&evalEvery=6&model=mlp&backend=wasm&sync=accumulate&roundMs=600&lr=0.003&collective=two-shot`;
  const pages = await openTabs(browser, TABS, query, async (page, i) => {
    if (i === TABS - 1) await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: 8 });
  });
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  for (const s of statuses) {
    expect(s.step).toBe(ROUNDS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.rounds?.sync).toBe('accumulate');
    expect(s.rounds?.unit).toBe('micro-batches');
    expect(s.config?.collective).toBe('two-shot');
  }
  const histories = await expectIdenticalRounds(pages, ROUNDS);
  const slowId = statuses[TABS - 1]!.peerId!;
  const steady = histories[0]!.slice(2); // the first rounds include the wasm warm-up
  const slow = steady.map((r) => r.contributions![slowId]!);
  const fast = steady.map((r) => Math.min(...Object.entries(r.contributions!).filter(([id]) => id !== slowId).map(([, n]) => n)));
  const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  console.log(`accumulate: contributions per round (fast min / throttled) ${fast.join(',')} / ${slow.join(',')}; round ms (compute/communicate/total) ${steady.map((r) => [r.ms.compute, r.ms.communicate, r.ms.total].map(Math.round).join('/')).join(' ')}; accuracy ${statuses[0]!.testAccuracy}`);
  // The room trains while the throttled tab still fetches its shard (it takes part with nothing);
  // from then on it contributes at least one micro-batch a round.
  const loaded = slow.findIndex((n) => n > 0);
  expect(loaded).toBeGreaterThanOrEqual(0);
  expect(slow.length - loaded).toBeGreaterThanOrEqual(4);
  expect(Math.min(...slow.slice(loaded))).toBeGreaterThanOrEqual(1);
  expect(total(fast)).toBeGreaterThan(total(slow));
  expect(statuses[0]!.testAccuracy).toBeGreaterThanOrEqual(0.8);
  await expect(pages[0]!.locator('#field-rounds')).toContainText('sync=accumulate');
  await pages[0]!.context().close();
});

test('sync=accumulate, staleness=1: a tab too slow for the round sits every other one out and contributes one round late; replicas identical after every round', async ({ browser }) => {
  const ROUNDS = 16;
  const room = uniqueRoom('e2e-sit-out');
  const query = `room=${room}&workers=${TABS}&steps=${ROUNDS}&evalEvery=6&model=mlp&backend=wasm&sync=accumulate&staleness=1&roundMs=400&lr=0.003&collective=two-shot`;
  const pages = await openTabs(browser, TABS, query);
  // Throttled once it holds its shard (it contributed), so that what follows is sitting out, not
  // taking part with nothing while a throttled tab fetches its shard (the test above).
  const last = pages[TABS - 1]!;
  const held = async (): Promise<number> => {
    const id = (await waitForTabs([last], () => true, 10_000))[0]!.peerId;
    const history = await historyOf(last);
    return history.findIndex((r) => id !== null && id !== undefined && (r.contributions?.[id] ?? 0) > 0);
  };
  await expect.poll(held, { timeout: 60_000 }).toBeGreaterThanOrEqual(0);
  await (await last.context().newCDPSession(last)).send('Emulation.setCPUThrottlingRate', { rate: 16 });
  const throttledAfter = (await historyOf(last)).length;
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  for (const s of statuses) {
    expect(s.step).toBe(ROUNDS);
    expect(s.error).toBeNull();
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
  }
  const histories = await expectIdenticalRounds(pages, ROUNDS);
  const slowId = statuses[TABS - 1]!.peerId!;
  const slow = histories[0]!.map((r) => r.contributions![slowId]!);
  const throttled = histories[TABS - 1]!;
  console.log(`sit-out: throttled tab's contributions ${slow.join(',')}; its round ms (compute/communicate/total) ${throttled.map((r) => [r.ms.compute, r.ms.communicate, r.ms.total].map(Math.round).join('/')).join(' ')}; others' totals ${histories[0]!.map((r) => Math.round(r.ms.total)).join(',')}`);
  // It sat rounds out, never two in a row, and each round it sat out it computed the next one's
  // batch, which it contributed there.
  // Before it was throttled it took part in every round (with nothing while its shard loaded);
  // the last round has no next one to compute for.
  const loading = slow.findIndex((n) => n > 0);
  expect(slow.slice(loading, throttledAfter).every((n) => n > 0)).toBe(true);
  const satOut = slow.flatMap((n, i) => (n === 0 && i >= throttledAfter && i < ROUNDS - 1 ? [i] : []));
  expect(satOut.length).toBeGreaterThanOrEqual(3);
  for (const i of satOut) {
    expect(throttled[i]!.ms.compute, `round ${i + 1}: computed meanwhile`).toBeGreaterThan(0);
    if (i + 1 < ROUNDS) {
      expect(slow[i + 1], `round ${i + 2}: it contributes`).toBeGreaterThanOrEqual(1);
      expect(throttled[i + 1]!.ms.compute, `round ${i + 2}: its batch was ready`).toBe(0);
    }
  }
  expect(statuses[0]!.testAccuracy).toBeGreaterThanOrEqual(0.8);
  await pages[0]!.context().close();
});

test('sync=local: inner steps overlapping the exchange, a PowerSGD-compressed outer Nesterov step per round, replicas identical', async ({ browser }) => {
  const ROUNDS = 12;
  const INNER = 10;
  const room = uniqueRoom('e2e-local');
  const query = `room=${room}&workers=${TABS}&steps=${ROUNDS}&evalEvery=5&model=mlp&backend=wasm&sync=local&inner=${INNER}&compressor=powersgd&rank=4&staleness=1`;
  const pages = await openTabs(browser, TABS, query);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  for (const s of statuses) {
    expect(s.step).toBe(ROUNDS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.rounds?.unit).toBe('inner steps');
  }
  const histories = await expectIdenticalRounds(pages, ROUNDS);
  for (const r of histories[0]!) expect(Object.values(r.contributions!)).toEqual([INNER, INNER, INNER]);
  console.log(`local: ${ROUNDS} rounds of ${INNER} inner steps, bytes sent per round ${histories[0]!.map((r) => r.bytesSent).join(',')}, accuracy ${statuses[0]!.testAccuracy}`);
  expect(statuses[0]!.testAccuracy).toBeGreaterThanOrEqual(0.8);
  await pages[0]!.context().close();
});
