/**
 * Two signaling server processes on one Redis behind one address (a round-robin TCP proxy, as a
 * load balancer): three tabs, their sockets spread over both processes, train together; the
 * process that owns the room is killed (SIGKILL) mid-run, and the tabs carry on through the other
 * to the end with identical replicas and the same peer ids.
 *
 * Each tab shapes what it sends (100 ms per frame), so a step takes some hundreds of ms whatever
 * the machine: the kill falls mid-run.
 */
import { expect, test, type Page } from '@playwright/test';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { metric, RedisServer, RoundRobinProxy, ServerProcess } from '@tabswarm/signaling-server/cluster-testing';
import { historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const STEPS = 80;

function eventsOf(s: TabStatus, kind: string): string[] {
  return s.events.filter((e) => e.kind === kind).map((e) => e.message);
}

/** waitForTabs that also fails if any tab's step ever goes back between two polls. */
function watcher(pages: Page[]): (done: (s: TabStatus[]) => boolean, timeoutMs: number) => Promise<TabStatus[]> {
  const last = new Map<Page, number>();
  return (done, timeoutMs) => waitForTabs(pages, (statuses) => {
    statuses.forEach((s, i) => {
      expect(s.step, `tab ${i}: the step never goes back`).toBeGreaterThanOrEqual(last.get(pages[i]!) ?? 0);
      last.set(pages[i]!, s.step);
    });
    return done(statuses);
  }, timeoutMs);
}

test('three tabs over two server processes; the room\'s owner is killed mid-run; they finish identical through the other', async ({ browser }) => {
  const started: Array<{ stop(): Promise<void> }> = [];
  let pages: Page[] = [];
  try {
    const redis = await RedisServer.start();
    started.push(redis);
    const servers = [await ServerProcess.start('a', redis.url), await ServerProcess.start('b', redis.url)];
    started.push(...servers);
    const proxy = await RoundRobinProxy.start(servers.map((s) => s.port));
    started.push(proxy);

    const room = uniqueRoom('scale-out');
    const startedAt = Date.now();
    pages = await openTabs(browser, 3, `room=${room}&workers=3&steps=${STEPS}&evalEvery=50&model=mlp&batchSize=16&latency=100ms`, undefined, proxy.url);
    const until = watcher(pages);
    const before = await until((s) => s.every((t) => t.state === 'training' && t.step >= 20), 3 * 60_000);
    const ids = before.map((s) => s.peerId);

    const metrics = await Promise.all(servers.map((s) => s.metrics()));
    const connections = metrics.map((m) => metric(m, 'tabswarm_connections'));
    expect(connections.every((n) => n >= 1), `tabs on both processes (connections ${connections.join(', ')})`).toBe(true);
    const ownerIndex = metrics.findIndex((m) => metric(m, 'tabswarm_cluster_rooms_owned') === 1);
    expect(ownerIndex, 'one process owns the room').toBeGreaterThanOrEqual(0);
    const [owner, survivor] = [servers[ownerIndex]!, servers[1 - ownerIndex]!];
    expect(metric(metrics[1 - ownerIndex]!, 'tabswarm_cluster_rooms_owned')).toBe(0);

    await owner.stop();
    const killedAt = Date.now();
    const stepAtKill = Math.max(...(await until(() => true, 10_000)).map((s) => s.step));
    await until((s) => s.every((t) => t.signaling.state === 'connected' && eventsOf(t, 'signaling').some((m) => m.startsWith('re-registered'))), 60_000);
    const reRegisteredMs = Date.now() - killedAt;
    const atReRegistered = await until(() => true, 10_000);
    const end = await until((s) => s.every((t) => t.state === 'done'), 3 * 60_000);
    const seconds = (Date.now() - startedAt) / 1000;

    expect(end.map((s) => s.peerId), 'the same peer ids').toEqual(ids);
    for (const s of end) {
      expect(s.step).toBe(STEPS);
      expect(s.weightsHash).toBe(end[0]!.weightsHash);
      expect(s.peers).toHaveLength(2);
      expect(eventsOf(s, 'fork')).toEqual([]);
      expect(eventsOf(s, 'evicted')).toEqual([]);
    }
    const histories = await Promise.all(pages.map(historyOf));
    const all = Array.from({ length: STEPS }, (_, i) => i + 1);
    histories.forEach((h, i) => expect(h.map((r) => r.step), `steps recorded by tab ${i}`).toEqual(all));
    for (const h of histories.slice(1)) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
    const after = await survivor.metrics();
    expect(metric(after, 'tabswarm_cluster_rooms_owned'), 'the survivor owns the room now').toBe(1);
    expect(metric(after, 'tabswarm_connections')).toBe(3);
    console.log(`scale-out: connections ${connections.join(' + ')} over two processes; owner ${owner.name} killed at step ${stepAtKill}; `
      + `every tab re-registered with ${survivor.name} within ${(reRegisteredMs / 1000).toFixed(1)} s (step ${Math.min(...atReRegistered.map((s) => s.step))} by then); `
      + `epochs ${before[0]!.epoch} -> ${end[0]!.epoch}; all ${STEPS} steps in ${seconds.toFixed(1)} s, hash ${end[0]!.weightsHash.slice(0, 12)} on every tab`);
  } finally {
    if (pages.length > 0) await pages[0]!.context().close();
    for (const s of started.reverse()) await s.stop();
  }
});
