/**
 * The signaling server goes away and comes back while tabs train: killed (SIGKILL) mid-run and
 * started again on the same port. The tabs keep training over their data channels meanwhile,
 * re-register the room under the same peer ids when it is back, and finish the run with identical
 * weights; no step ever goes back. Then twice in one run, with a tab closing while it is down.
 *
 * Each tab shapes what it sends (100 ms per frame), so a step takes some hundreds of ms whatever
 * the machine: the outages fall mid-run.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { KillableServer } from './killable-server.ts';

const LINK = 'latency=100ms';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** waitForTabs that also fails if any tab's step ever goes back between two polls. */
function watcher(pages: Page[]): (done: (s: TabStatus[]) => boolean, timeoutMs: number) => Promise<TabStatus[]> {
  const last = new Map<Page, number>();
  return (done, timeoutMs) => waitForTabs(pages, (statuses) => {
    statuses.forEach((s, i) => {
      const page = pages[i]!;
      expect(s.step, `tab ${i}: the step never goes back`).toBeGreaterThanOrEqual(last.get(page) ?? 0);
      last.set(page, s.step);
    });
    return done(statuses);
  }, timeoutMs);
}

/**
 * Every tab recorded every step once, with the same weights as the others at each, except steps it
 * never computed because it adopted a peer's state of a later step (a tab one step behind when the
 * room was rebuilt): each such gap must end at a state it says it received.
 */
async function expectIdenticalRuns(pages: Page[], steps: number): Promise<void> {
  const histories = await Promise.all(pages.map(historyOf));
  const statuses = await Promise.all(pages.map(status));
  histories.forEach((h, i) => {
    const recorded = h.map((r) => r.step);
    expect(recorded.at(-1), `tab ${i} recorded the last step`).toBe(steps);
    const adopted = eventsOf(statuses[i]!, 'state-received').map((m) => Number(/state of step (\d+)/.exec(m)?.[1]));
    recorded.forEach((step, k) => {
      const previous = k === 0 ? 0 : recorded[k - 1]!;
      if (step === previous + 1) return;
      expect(step, `tab ${i}: steps recorded in order, each once`).toBeGreaterThan(previous);
      expect(adopted, `tab ${i}: steps ${previous + 1}-${step - 1} missing, but it adopted no state of step ${step - 1}`).toContain(step - 1);
    });
  });
  const hashes = histories.map((h) => new Map(h.map((r) => [r.step, r.weightsHash])));
  for (let step = 1; step <= steps; step++) {
    const atStep = hashes.map((m) => m.get(step)).filter((x): x is string => x !== undefined);
    expect(atStep.length, `step ${step} recorded by some tab`).toBeGreaterThan(0);
    expect(new Set(atStep).size, `one weights hash at step ${step}`).toBe(1);
  }
}

function eventsOf(s: TabStatus, kind: string): string[] {
  return s.events.filter((e) => e.kind === kind).map((e) => e.message);
}

/** Three tabs; the server is killed at step ~20 and started again after `downMs`. */
async function outage(browser: Browser, downMs: number, steps: number): Promise<void> {
  const server = await KillableServer.start();
  const room = uniqueRoom('restart');
  const pages = await openTabs(browser, 3, `room=${room}&workers=3&steps=${steps}&evalEvery=50&model=mlp&batchSize=16&${LINK}`, undefined, server.url);
  try {
    const until = watcher(pages);
    const before = await until((s) => s.every((t) => t.state === 'training' && t.step >= 20), 3 * 60_000);
    const ids = before.map((s) => s.peerId);

    await server.kill();
    const killedAt = Date.now();
    const down = await until((s) => s.every((t) => t.signaling.state === 'reconnecting'), 10_000);
    const stepAtKill = Math.max(...down.map((s) => s.step));
    await expect(pages[0]!.locator('#field-server')).toContainText('reconnecting');
    await sleep(downMs - (Date.now() - killedAt));
    const atRestart = await until(() => true, 10_000);
    const stepAtRestart = Math.min(...atRestart.map((s) => s.step));
    for (const s of atRestart) {
      expect(s.state, 'still training when the server comes back').toBe('training');
      expect(s.signaling.paused).toBe(false);
      expect(s.signaling.state).toBe('reconnecting');
    }
    expect(stepAtRestart, 'the tabs trained while the server was down').toBeGreaterThan(stepAtKill + 5);

    await server.start();
    const restartedAt = Date.now();
    await until((s) => s.every((t) => t.signaling.state === 'connected' && eventsOf(t, 'signaling').some((m) => m.startsWith('re-registered'))), 30_000);
    const reRegisteredMs = Date.now() - restartedAt;
    const end = await until((s) => s.every((t) => t.state === 'done'), 3 * 60_000);

    expect(end.map((s) => s.peerId), 'the same peer ids').toEqual(ids);
    for (const s of end) {
      expect(s.step).toBe(steps);
      expect(s.weightsHash).toBe(end[0]!.weightsHash);
      expect(s.peers).toHaveLength(2);
      expect(eventsOf(s, 'fork')).toEqual([]);
      expect(eventsOf(s, 'paused')).toEqual([]);
      expect(eventsOf(s, 'evicted')).toEqual([]);
    }
    await expectIdenticalRuns(pages, steps);
    console.log(`outage of ${(downMs / 1000).toFixed(0)} s: killed at step ${stepAtKill}, step ${stepAtRestart} when it came back `
      + `(${((stepAtRestart - stepAtKill) / (downMs / 1000)).toFixed(2)} steps/s while down); every tab re-registered within ${(reRegisteredMs / 1000).toFixed(1)} s; `
      + `epochs ${before[0]!.epoch} -> ${end[0]!.epoch}; all ${steps} steps, hash ${end[0]!.weightsHash.slice(0, 12)} on every tab`);
  } finally {
    await server.kill();
    await pages[0]!.context().close();
  }
}

test('the server is killed at step ~20 and back after 15 s: the tabs train on and finish identical', async ({ browser }) => {
  await outage(browser, 15_000, 80);
});

test('the same with the server down for 60 s', async ({ browser }) => {
  await outage(browser, 60_000, 180);
});

test('killed and restarted twice, a tab closing while it is down: the survivors finish identical', async ({ browser }) => {
  const steps = 100;
  const server = await KillableServer.start();
  const room = uniqueRoom('restart-twice');
  const pages = await openTabs(browser, 3, `room=${room}&workers=3&steps=${steps}&evalEvery=50&model=mlp&batchSize=16&${LINK}`, undefined, server.url);
  try {
    let until = watcher(pages);
    const before = await until((s) => s.every((t) => t.state === 'training' && t.step >= 10), 3 * 60_000);

    // 1. Down; a tab closes meanwhile. The survivors cannot drop it without the server: they pause and say so.
    await server.kill();
    const survivors = pages.slice(0, 2);
    await pages[2]!.close();
    until = watcher(survivors);
    const paused = await until((s) => s.every((t) => t.signaling.paused), 30_000);
    for (const s of paused) expect(eventsOf(s, 'paused').length).toBeGreaterThan(0);
    await expect(survivors[0]!.locator('#field-server')).toContainText('training paused');
    await sleep(1000);
    const stillPaused = await until(() => true, 10_000);
    expect(stillPaused.map((s) => s.step), 'nobody trains on alone').toEqual(paused.map((s) => s.step));

    // Back: the room is rebuilt without the closed tab (it never re-registers), and training goes on.
    await server.start();
    const firstRestart = Date.now();
    const resumed = await until((s) => s.every((t) => t.peers.length === 1 && t.step >= paused[0]!.step + 5), 60_000);
    const resumedSeconds = (Date.now() - firstRestart) / 1000;

    // 2. Down again, with nobody leaving: training goes on; back, nothing changes.
    await server.kill();
    const stepAtKill = Math.max(...(await until(() => true, 10_000)).map((s) => s.step));
    await sleep(5000);
    const stepAtRestart = Math.min(...(await until(() => true, 10_000)).map((s) => s.step));
    expect(stepAtRestart, 'trained while the server was down').toBeGreaterThan(stepAtKill);
    await server.start();
    const end = await until((s) => s.every((t) => t.state === 'done'), 3 * 60_000);

    expect(end.map((s) => s.peerId)).toEqual(before.slice(0, 2).map((s) => s.peerId));
    for (const s of end) {
      expect(s.step).toBe(steps);
      expect(s.weightsHash).toBe(end[0]!.weightsHash);
      expect(eventsOf(s, 'fork')).toEqual([]);
      expect(eventsOf(s, 'signaling').filter((m) => m.startsWith('re-registered'))).toHaveLength(2);
    }
    await expectIdenticalRuns(survivors, steps);
    console.log(`two outages: paused at step ${paused[0]!.step} after the tab closed; training again ${resumedSeconds.toFixed(1)} s after the first restart `
      + `(epoch ${before[0]!.epoch} -> ${resumed[0]!.epoch}); second outage: step ${stepAtKill} -> ${stepAtRestart} while down; all ${steps} steps identical`);
  } finally {
    await server.kill();
    await pages[0]!.context().close();
  }
});
