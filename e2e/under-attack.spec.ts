/**
 * A room under attack from both sides at once: three honest tabs, a hostile tab (./hostile-peer.ts:
 * garbage over its data channels) and a hostile signaling client (./hostile-socket.ts: a member
 * that never connects, blames honest members in a resync for every epoch, floods junk signals and
 * rejoins after each eviction). The honest tabs finish the run with identical replicas, nobody
 * honest is evicted, both attackers are, and the epochs stay bounded.
 *
 * Slow by design: every epoch with the silent socket lasts the 20 s connect deadline, and it goes
 * only after 3 of them (all honest tabs name it, those cut short by the next epoch too), each time
 * it comes back; the hostile tab is shielded from eviction for 30 s after each of the socket's
 * (the room's eviction cooldown) and the socket is back sooner until its address's wait reaches
 * 12 s, the third time (the server then hangs up on it: no room within 10 s). Training starts
 * once both are out: about 4 minutes in here.
 */
import { expect, test } from '@playwright/test';
import { BASE_URL, historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { hostileCounts, makeHostile } from './hostile-peer.ts';
import { HostileSocket } from './hostile-socket.ts';

const STEPS = 30;

test('honest tabs finish with identical replicas while a hostile socket and a hostile tab attack the room', async ({ browser }) => {
  test.setTimeout(9 * 60_000);
  const room = uniqueRoom('e2e-attack');
  const began = Date.now();
  const pages = await openTabs(browser, 4, `room=${room}&workers=3&steps=${STEPS}&evalEvery=10&model=mlp`, async (page, i) => {
    if (i === 3) await makeHostile(page);
  });
  const [honest, hostileTab] = [pages.slice(0, 3), pages[3]!];
  // After an honest tab opened the room: a first joiner fixes the run's configuration (the
  // default 500 steps, had the socket come first).
  await waitForTabs(honest.slice(0, 1), (s) => s[0]!.epoch > 0, 2 * 60_000);
  const socket = new HostileSocket(BASE_URL, room);
  try {
    const statuses = await waitForTabs(honest, (s) => s.every((t) => t.state === 'done'), 7 * 60_000);
    const seconds = (Date.now() - began) / 1000;

    for (const s of statuses) {
      expect(s.step).toBe(STEPS);
      expect(s.error).toBeNull();
      expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
      expect(s.events.filter((e) => e.kind === 'evicted'), 'no honest tab evicted').toEqual([]);
    }
    // Identical at every step all three recorded.
    const histories = await Promise.all(honest.map(historyOf));
    const common = histories[0]!.filter((r) => histories.every((h) => h.some((o) => o.step === r.step)));
    expect(common.length).toBeGreaterThanOrEqual(STEPS / 2);
    for (const r of common) for (const h of histories) expect(h.find((o) => o.step === r.step)!.weightsHash, `step ${r.step}`).toBe(r.weightsHash);

    // Both attackers were in the room and were put out of it; their churn stayed bounded.
    const bad = await status(hostileTab);
    expect(bad.events.some((e) => e.kind === 'evicted'), 'the hostile tab was evicted').toBe(true);
    expect((await hostileCounts(hostileTab)).hello ?? 0).toBeGreaterThan(0);
    expect(socket.counts.joins).toBeGreaterThan(0);
    expect(socket.counts.evictions, 'the hostile socket was evicted').toBeGreaterThan(0);
    expect(socket.counts.joinsRefused, 'its rejoins were refused for a while after each eviction').toBeGreaterThan(0);
    const epoch = Math.max(...statuses.map((s) => s.epoch));
    expect(epoch, 'epochs bounded').toBeLessThan(120);
    console.log(`under attack: ${STEPS} honest steps in ${seconds.toFixed(1)} s, final epoch ${epoch}; hostile socket ${JSON.stringify(socket.counts)}; hostile tab evicted ${bad.events.filter((e) => e.kind === 'evicted').length} times`);
  } finally {
    socket.stop();
    await pages[0]!.context().close();
  }
});
