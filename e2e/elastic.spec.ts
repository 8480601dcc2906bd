/**
 * Peers come and go while four tabs train: one closes mid-training, a new one arrives late, and
 * the tab that opened the room leaves. Training goes on, replicas stay identical, and the times
 * to recover and to catch up are measured.
 */
import { expect, test, type Page } from '@playwright/test';
import { historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';

/**
 * The latest step every page of `pages` has reached, and their hashes there. Fails unless every
 * history is non-empty and holds a record of that step: a page without it has no hash to compare.
 */
async function hashesAtCommonStep(pages: Page[]): Promise<{ step: number; hashes: string[] }> {
  const histories = await Promise.all(pages.map(historyOf));
  histories.forEach((h, i) => expect(h.length, `history of tab ${i}`).toBeGreaterThan(0));
  const step = Math.min(...histories.map((h) => h.at(-1)!.step));
  const hashes = histories.map((h, i) => {
    const record = h.find((r) => r.step === step);
    expect(record, `tab ${i} has a record of step ${step}`).toBeDefined();
    return record!.weightsHash;
  });
  return { step, hashes };
}

test('tabs leave and join mid-training; the rest keep training with identical weights', async ({ browser }) => {
  const room = uniqueRoom('elastic');
  const query = `room=${room}&workers=4&steps=100000&evalEvery=25&model=mlp&batchSize=32`;
  const pages = await openTabs(browser, 4, query);
  await waitForTabs(pages, (s) => s.every((t) => t.state === 'training' && t.step >= 8), 3 * 60_000);

  // 1. A tab closes mid-training: the others are training again within 10 s.
  const leaver = pages.splice(2, 1)[0]!;
  const stepAtClose = Math.max(...(await Promise.all(pages.map(status))).map((s) => s.step));
  const closedAt = Date.now();
  await leaver.close();
  await waitForTabs(pages, (s) => s.every((t) => t.peers.length === 2 && t.step >= stepAtClose + 2), 30_000);
  const recoverySeconds = (Date.now() - closedAt) / 1000;
  const recovery = (await Promise.all(pages.map(status))).map((s) => s.lastRecoveryMs);
  console.log(`peer left at step ${stepAtClose}: training again after ${recoverySeconds.toFixed(1)} s (lastRecoveryMs ${recovery.join(', ')})`);
  expect(recoverySeconds).toBeLessThan(10);
  const afterLeave = await hashesAtCommonStep(pages);
  expect(new Set(afterLeave.hashes).size, `hashes at step ${afterLeave.step}`).toBe(1);

  // 2. A new tab joins late: within 3 steps of joining it holds the same weights.
  const joinedAt = Date.now();
  const [newcomer] = await openTabs(browser, 1, query);
  pages.push(newcomer!);
  await waitForTabs(pages, (s) => s.every((t) => t.peers.length === 3) && s.at(-1)!.step > 0 && (s.at(-1)!.events.some((e) => e.kind === 'state-received')), 60_000);
  const firstStep = (await historyOf(newcomer!))[0]?.step ?? (await status(newcomer!)).step;
  await waitForTabs(pages, (s) => s.at(-1)!.step >= firstStep + 3, 60_000);
  const catchUpSeconds = (Date.now() - joinedAt) / 1000;
  const newcomerHistory = await historyOf(newcomer!);
  expect(newcomerHistory.length, 'the newcomer has trained').toBeGreaterThan(0);
  const joinStep = newcomerHistory[0]!.step;
  const older = await historyOf(pages[0]!);
  const olderAtJoin = older.find((r) => r.step === joinStep);
  expect(olderAtJoin, `an older tab has a record of step ${joinStep}`).toBeDefined();
  // Its very first step already matches the others bit for bit.
  expect(newcomerHistory[0]!.weightsHash).toBe(olderAtJoin!.weightsHash);
  const afterJoin = await hashesAtCommonStep(pages);
  expect(new Set(afterJoin.hashes).size, `hashes at step ${afterJoin.step}`).toBe(1);
  const transfer = (await status(newcomer!)).events.find((e) => e.kind === 'state-received');
  console.log(`late joiner: page opened to 3 steps trained in ${catchUpSeconds.toFixed(1)} s; state transfer ${transfer?.message} in ${transfer?.ms} ms; first step ${joinStep}`);

  // 3. The tab that opened the room leaves: nobody is special, training continues.
  const first = pages.shift()!;
  const stepAtFirstLeave = Math.max(...(await Promise.all(pages.map(status))).map((s) => s.step));
  await first.close();
  await waitForTabs(pages, (s) => s.every((t) => t.peers.length === 2 && t.step >= stepAtFirstLeave + 3), 30_000);
  const end = await hashesAtCommonStep(pages);
  expect(new Set(end.hashes).size, `hashes at step ${end.step}`).toBe(1);
  for (const s of await Promise.all(pages.map(status))) {
    expect(s.state).toBe('training');
    expect(s.error).toBeNull();
  }
  await pages[0]!.context().close();
});
