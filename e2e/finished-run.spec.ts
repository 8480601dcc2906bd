/**
 * Finished runs and the trained model, with real tabs, real WebRTC and a real server: two tabs
 * train a short run to its end while an observer (`role=observer`) follows it; a tab opening the
 * room afterwards shows the finished run (same step, hash and accuracy) within 10 s without
 * training; the model a tab downloads loads in Node with `tf.loadLayersModel` and reproduces the
 * room's test accuracy on its evaluation subset; once every member has closed, a new tab says
 * the run finished and nobody holds its model.
 */
import { expect, test, type Page } from '@playwright/test';
import type { ModelDownload, TabStatus } from '@tabswarm/shared/protocol';
import { openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { accuracyInNode, readModelFiles, type ModelFiles } from './model-files.ts';

const STEPS = 20;

/** Polls `page` until `done` holds; fails with its last status after `ms`. */
async function waitForStatus(page: Page, done: (s: TabStatus) => boolean, ms: number): Promise<TabStatus> {
  const began = Date.now();
  let last = await status(page);
  while (!done(last)) {
    if (Date.now() - began > ms) expect({ state: last.state, step: last.step, error: last.error, events: last.events.slice(-5).map((e) => e.message) }).toBe(`reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    last = await status(page);
  }
  return last;
}

/** Calls downloadModel() in `page` and saves both files the browser downloads; returns their contents. */
async function download(page: Page): Promise<ModelFiles & { info: ModelDownload }> {
  const saved = new Map<string, string>();
  const both = new Promise<void>((resolve) => {
    page.on('download', (d) => {
      void d.path().then((path) => {
        saved.set(d.suggestedFilename(), path);
        if (saved.size === 2) resolve();
      });
    });
  });
  const info = await page.evaluate(() => window.tabswarm.downloadModel!());
  await Promise.race([both, new Promise((_, reject) => setTimeout(() => reject(new Error('no two downloads within 15 s')), 15_000))]);
  const [jsonName, weightsName] = info.files;
  return { info, ...(await readModelFiles(saved.get(jsonName!)!, saved.get(weightsName!)!)) };
}

test('a finished room shows its run, hands its model out, and says when nobody holds it', async ({ browser }) => {
  const room = uniqueRoom('finished');
  const members = await openTabs(browser, 2, `room=${room}&workers=2&steps=${STEPS}&evalEvery=10&model=mlp`);
  await waitForTabs(members, (s) => s.every((t) => t.step >= 3), 3 * 60_000);

  // An observer joins the run under way: it gets a copy, and no member counts it.
  const [observer] = await openTabs(browser, 1, `room=${room}&role=observer`);
  const observerOpened = Date.now();
  const observing = await waitForStatus(observer!, (s) => s.weightsHash !== '', 30_000);
  console.log(`observer holds step ${observing.step} of the run under way after ${((Date.now() - observerOpened) / 1000).toFixed(2)} s`);
  expect(observing.role).toBe('observer');
  expect(observing.peers).toHaveLength(2);

  const done = await waitForTabs(members, (s) => s.every((t) => t.state === 'done'), 3 * 60_000);
  const [first] = done;
  const final = { step: STEPS, weightsHash: first!.weightsHash, testAccuracy: first!.testAccuracy };
  for (const s of done) {
    expect({ step: s.step, weightsHash: s.weightsHash, testAccuracy: s.testAccuracy }).toEqual(final);
    expect(s.peers, 'the observer is no member').toHaveLength(1);
    expect(s.observers).toContain(observing.peerId);
  }
  // Every step ran with the two members only.
  const histories = await Promise.all(members.map((p) => p.evaluate(() => window.tabswarm.history().map((r) => r.peers))));
  for (const h of histories) expect(new Set(h)).toEqual(new Set([2]));
  // The observer follows the run to its end (the server tells it the run finished).
  const followed = await waitForStatus(observer!, (s) => s.state === 'done', 20_000);
  expect({ step: followed.step, weightsHash: followed.weightsHash, testAccuracy: followed.testAccuracy }).toEqual(final);

  // A tab opening the finished room, with other URL keys, shows the finished run without training.
  const opened = Date.now();
  const [late] = await openTabs(browser, 1, `room=${room}&steps=500&workers=1`);
  const shown = await waitForStatus(late!, (s) => s.state === 'done' || s.state === 'error', 10_000);
  const seconds = (Date.now() - opened) / 1000;
  console.log(`finished room shown in ${seconds.toFixed(2)} s: step ${shown.step}, weights ${shown.weightsHash}, accuracy ${shown.testAccuracy}`);
  expect(shown.state, shown.error ?? '').toBe('done');
  expect(shown.role).toBe('observer');
  expect({ step: shown.step, weightsHash: shown.weightsHash, testAccuracy: shown.testAccuracy }).toEqual(final);
  expect(shown.finished).toEqual({ step: STEPS, hash: final.weightsHash, testAccuracy: final.testAccuracy });
  expect(seconds).toBeLessThan(10);
  await expect(late!.locator('#field-weightsHash')).toHaveText(final.weightsHash);
  await expect(late!.locator('#field-finished')).toContainText(`at step ${STEPS}, weights ${final.weightsHash}`);
  await late!.screenshot({ path: test.info().outputPath('finished-room.png'), fullPage: true });
  for (const s of await Promise.all(members.map(status))) expect(s.peers).toHaveLength(1);

  // The model out of a member and out of the late tab: the same bytes, and in Node the room's accuracy.
  const fromMember = await download(members[0]!);
  const fromLate = await download(late!);
  expect(fromMember.info).toEqual({ files: [`${room}-step${STEPS}.json`, `${room}-step${STEPS}.weights.bin`], step: STEPS, weightsHash: final.weightsHash });
  expect(fromLate.weights.equals(fromMember.weights)).toBe(true);
  expect(fromMember.weights.byteLength).toBe(4 * (784 * 256 + 256 + 256 * 10 + 10));
  const accuracy = await accuracyInNode(fromLate, first!.config!);
  console.log(`downloaded model in Node: test accuracy ${accuracy} (room reported ${final.testAccuracy})`);
  expect(accuracy).toBe(final.testAccuracy);

  // Every member leaves: a new tab says the run finished and nobody holds it.
  for (const page of [...members, observer!, late!]) await page.close();
  const [orphan] = await openTabs(browser, 1, `room=${room}`);
  const unheld = await waitForStatus(orphan!, (s) => s.state === 'error', 10_000);
  expect(unheld.error).toMatch(new RegExp(`^ModelUnavailableError: the run finished at step ${STEPS} \\(weights ${final.weightsHash}, test accuracy [0-9.]+ %\\); nobody in the room holds its model any more$`));
  expect(unheld.finished?.hash).toBe(final.weightsHash);
  expect(unheld.step).toBe(0);
  await expect(orphan!.locator('#error')).toContainText('nobody in the room holds its model');
  await orphan!.screenshot({ path: test.info().outputPath('nobody-holds-it.png'), fullPage: true });
});
