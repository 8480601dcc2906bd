/**
 * Data that stays in the tab (`data=local`): three tabs each choose a CSV of their own through the
 * page's file chooser (a third each of the spirals example's training points, written as CSV
 * here) and train the spirals task together to identical weights, evaluated on the task's shared
 * test set. A fourth tab chooses a malformed CSV: the page names the file, the line and the
 * problem, and the tab never joins, while the three others train on and finish.
 */
import { expect, test, type Page } from '@playwright/test';
import type { Dataset } from '@tabswarm/shared';
import { spiralTable } from '../examples/src/spirals-task.ts';
import { historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';

const STEPS = 150;
const TABS = 3;

/** `data`'s examples [from, to) as the page's CSV format: a header, the label, then the values. */
function csv(data: Dataset, from: number, to: number): string {
  const rows = ['label,x,y'];
  for (let i = from; i < to; i++) rows.push(`${data.labels[i]},${data.images[2 * i]},${data.images[2 * i + 1]}`);
  return `${rows.join('\n')}\n`;
}

/** Chooses `name` with `text` in the page's CSV input, as a volunteer would through the file chooser. */
async function chooseCsv(page: Page, name: string, text: string): Promise<void> {
  const input = page.locator('#local-csv');
  await input.waitFor({ state: 'attached', timeout: 60_000 });
  const chooser = page.waitForEvent('filechooser');
  await input.click();
  await (await chooser).setFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
}

test('three tabs train on CSV files of their own to identical weights; a malformed file is named on its page and that tab never joins', async ({ browser }) => {
  const room = uniqueRoom('e2e-local');
  const query = `room=${room}&task=spirals&data=local&backend=cpu&workers=${TABS}&steps=${STEPS}&batchSize=32&lr=0.02&evalEvery=50&evalSize=600&checkEvery=10`;
  const points = spiralTable(3000, 1);
  const started = Date.now();
  const pages = await openTabs(browser, TABS + 1, query);
  const [bad, ...good] = [pages[TABS]!, ...pages.slice(0, TABS)];

  // The malformed file first: the room must not wait for, or ever see, that tab.
  await expect(bad.locator('#local-data')).toContainText('Your data stays in this tab', { timeout: 60_000 });
  await chooseCsv(bad, 'broken.csv', 'label,x,y\n0,0.1,0.2\n1,0.3,oops\n');
  await expect(bad.locator('#local-data-error')).toHaveText('broken.csv, line 3, column "y": "oops" is not a number');
  for (const [i, page] of good.entries()) {
    const third = points.count / TABS;
    await chooseCsv(page, `spirals-${i}.csv`, csv(points, i * third, (i + 1) * third));
  }

  const statuses = await waitForTabs(good, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  const seconds = (Date.now() - started) / 1000;
  for (const [i, s] of statuses.entries()) {
    expect(s.step).toBe(STEPS);
    expect(s.peers).toHaveLength(TABS - 1);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.testAccuracy).toBe(statuses[0]!.testAccuracy);
    expect(s.data?.source).toBe('local');
    expect(s.data?.files).toEqual([`spirals-${i}.csv`]);
    expect(s.data?.trainExamples).toBe(1000);
    expect(s.data?.classCounts?.reduce((a, b) => a + b)).toBe(1000);
    expect(s.data?.testExamples, "the task's own test set").toBe(600);
  }
  const histories = await Promise.all(good.map(historyOf));
  for (const h of histories) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
  const accuracy = statuses[0]!.testAccuracy!;
  expect(accuracy).toBeGreaterThan(0.9);

  // The tab with the bad file never joined: no peer id, in nobody's membership, still asking.
  const refused = await status(bad);
  expect(refused.peerId).toBeNull();
  expect(refused.data?.source).toBe('builtin');
  expect(refused.state).toBe('connecting');
  await expect(bad.locator('#local-data-error')).toHaveText('broken.csv, line 3, column "y": "oops" is not a number');
  console.log(`local data: ${TABS} tabs (cpu), 1000 own spirals examples each, ${STEPS} steps: test accuracy ${accuracy.toFixed(3)}, weights ${statuses[0]!.weightsHash.slice(0, 12)}, ${seconds.toFixed(1)} s`);
});
