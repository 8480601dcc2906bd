/**
 * A room under attack from both sides at once: three honest tabs, a hostile tab (./hostile-peer.ts:
 * garbage over its data channels) and a hostile signaling client (./hostile-socket.ts: a member
 * that never connects, blames honest members in a resync for every epoch, floods junk signals and
 * rejoins after each eviction). The honest tabs finish the run with identical replicas, nobody
 * honest is evicted, both attackers are, and the epochs stay bounded.
 */
import { expect, test } from '@playwright/test';
import { BASE_URL, historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { hostileCounts, makeHostile } from './hostile-peer.ts';
import { HostileSocket } from './hostile-socket.ts';

const STEPS = 30;

// Known failure, kept visible as fixme: the hostile socket (a member that never connects) is named
// by every honest tab when its sync times out (20 s), but the first two reports start the next
// epoch and cut the other members' syncs short before their own deadlines fire, so no failed
// epoch gathers blame from more than half of the room and the socket is never evicted: the room
// sits at step 0 with a new epoch every 20 s. Counting blame over the room needs the members cut
// short to vote too (e.g. a member aborted by a new epoch names the channels still unopened after
// most of the deadline). The open defect, not this test.
test.fixme('honest tabs finish with identical replicas while a hostile socket and a hostile tab attack the room', async ({ browser }) => {
  const room = uniqueRoom('e2e-attack');
  const began = Date.now();
  const pages = await openTabs(browser, 4, `room=${room}&workers=3&steps=${STEPS}&evalEvery=10&model=mlp`, async (page, i) => {
    if (i === 3) await makeHostile(page);
  });
  const [honest, hostileTab] = [pages.slice(0, 3), pages[3]!];
  const socket = new HostileSocket(BASE_URL, room);
  try {
    const statuses = await waitForTabs(honest, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
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
