/**
 * Three tabs in one room, one of them hostile (./hostile-peer.ts: malformed collective frames,
 * hellos that are not JSON, NaN snapshots over its data channels; its hellos are refused first,
 * so nobody asks it for state here: poisoned snapshots are covered by the session tests). The
 * honest tabs refuse its input, blame it (PeerInputError naming it), the server evicts it, and
 * they finish the run with identical replicas; the hostile tab joins again and again and is
 * evicted again.
 */
import { expect, test } from '@playwright/test';
import { historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { hostileCounts, makeHostile } from './hostile-peer.ts';

const STEPS = 30;

test('honest tabs train on with identical replicas while a hostile tab is blamed and evicted', async ({ browser }) => {
  const room = uniqueRoom('e2e-hostile');
  // Honest tabs first, the hostile one third: the run starts with all three (workers=3).
  const pages = await openTabs(browser, 3, `room=${room}&workers=3&steps=${STEPS}&evalEvery=10&model=mlp`, async (page, i) => {
    if (i === 2) await makeHostile(page);
  });
  const [honest, hostile] = [pages.slice(0, 2), pages[2]!];
  const statuses = await waitForTabs(honest, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);

  for (const s of statuses) {
    expect(s.step).toBe(STEPS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.events.filter((e) => e.kind === 'evicted'), 'no honest tab evicted').toEqual([]);
  }
  // Identical at every step both recorded (a failed step records nothing; a step one of them got
  // by state transfer is recorded by the other only), and most steps recorded by both.
  const [h0, h1] = await Promise.all(honest.map(historyOf));
  const other = new Map(h1!.map((r) => [r.step, r.weightsHash]));
  const common = h0!.filter((r) => other.has(r.step));
  expect(common.length).toBeGreaterThanOrEqual(STEPS / 2);
  for (const r of common) expect(other.get(r.step), `step ${r.step}`).toBe(r.weightsHash);

  // The hostile tab did send its garbage, and the honest tabs refused it by name, naming it.
  const sent = await hostileCounts(hostile);
  expect(sent.hello ?? 0).toBeGreaterThan(0);
  const bad = await status(hostile);
  const refusals = statuses.flatMap((s) => s.events.filter((e) => e.kind === 'step-aborted' && /PeerInputError/.test(e.message)));
  expect(refusals.length).toBeGreaterThan(0);
  expect(bad.events.some((e) => e.kind === 'evicted'), 'the hostile tab was evicted').toBe(true);
  expect(bad.state).not.toBe('error');
  console.log(`hostile tab rewrote ${JSON.stringify(sent)}; honest tabs refused its input ${refusals.length} times; it was evicted ${bad.events.filter((e) => e.kind === 'evicted').length} times (last 50 events); honest run of ${STEPS} steps done, replicas identical`);
  await pages[0]!.context().close();
});
