/**
 * Data that stays in the tab (`data=local`): three tabs each choose a CSV of their own through the
 * page's file chooser (a third each of the spirals example's training points, written as CSV
 * here) and train the spirals task together to identical weights, evaluated on the task's shared
 * test set. A fourth tab chooses a malformed CSV: the page names the file, the line and the
 * problem, and the tab never joins, while the three others train on and finish.
 *
 * A room mixes both kinds of member: a tab on its shard of MNIST trains with a tab whose data is
 * a folder of MNIST digits as images in folders named by label (after it first chose a folder
 * with an image of the wrong size, named on its page).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parseMnist } from '@tabswarm/shared';
import { mnistDataDir } from '@tabswarm/client/mnist-fs';
import { spiralCsv, spiralTable } from '../examples/src/spirals-task.ts';
import { historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';

const STEPS = 150;
const TABS = 3;

/** A grey `side` x `side` image as a 24-bit BMP (a format every browser decodes, simple to write). */
function bmp(pixels: Uint8Array, side: number): Buffer {
  const row = Math.ceil((side * 3) / 4) * 4;
  const out = Buffer.alloc(54 + row * side);
  out.write('BM', 0);
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(side, 18);
  out.writeInt32LE(side, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(row * side, 34);
  for (let y = 0; y < side; y++) {
    // Rows bottom up, each pixel blue, green, red.
    for (let x = 0; x < side; x++) out.fill(pixels[(side - 1 - y) * side + x]!, 54 + y * row + 3 * x, 54 + y * row + 3 * x + 3);
  }
  return out;
}

/** Chooses the folder `dir` in the page's folder input, through the file chooser. */
async function chooseFolder(page: Page, dir: string): Promise<void> {
  const input = page.locator('#local-images');
  await input.waitFor({ state: 'attached', timeout: 60_000 });
  const chooser = page.waitForEvent('filechooser');
  await input.click();
  await (await chooser).setFiles(dir);
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
  await expect(bad.locator('#local-data')).toContainText("Nothing but the model's updates");
  await chooseCsv(bad, 'broken.csv', 'label,x,y\n0,0.1,0.2\n1,0.3,oops\n');
  await expect(bad.locator('#local-data-error')).toHaveText('broken.csv, line 3, column "y": "oops" is not a number');
  for (const [i, page] of good.entries()) {
    const third = points.count / TABS;
    await chooseCsv(page, `spirals-${i}.csv`, spiralCsv(points, i * third, (i + 1) * third));
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
  expect(refused.data?.source).toBe('local');
  expect(refused.data?.files, 'no file taken').toEqual([]);
  expect(refused.state).toBe('connecting');
  await expect(bad.locator('#local-data-error')).toHaveText('broken.csv, line 3, column "y": "oops" is not a number');
  console.log(`local data: ${TABS} tabs (cpu), 1000 own spirals examples each, ${STEPS} steps: test accuracy ${accuracy.toFixed(3)}, weights ${statuses[0]!.weightsHash.slice(0, 12)}, ${seconds.toFixed(1)} s`);
});

test('a tab on its MNIST shard and a tab on a folder of its own digit images train one model; an image of the wrong size is named first', async ({ browser }) => {
  const dir = await mkdtemp(join(tmpdir(), 'tabswarm-digits-'));
  try {
    const mnist = parseMnist(
      await readFile(join(mnistDataDir(), 'train-images-idx3-ubyte')),
      await readFile(join(mnistDataDir(), 'train-labels-idx1-ubyte')),
    );
    // The last 1,000 training digits as images, in folders named by label.
    const count = 1000;
    for (let i = mnist.count - count; i < mnist.count; i++) {
      const bytes = Uint8Array.from(mnist.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
      await mkdir(join(dir, 'digits', String(mnist.labels[i])), { recursive: true });
      await writeFile(join(dir, 'digits', String(mnist.labels[i]), `${i}.bmp`), bmp(bytes, 28));
    }
    await mkdir(join(dir, 'wrong', '3'), { recursive: true });
    await writeFile(join(dir, 'wrong', '3', 'big.bmp'), bmp(new Uint8Array(32 * 32), 32));

    const room = uniqueRoom('e2e-mixed');
    const query = `room=${room}&model=mlp&backend=cpu&workers=2&steps=100&batchSize=32&evalEvery=50&evalSize=500&checkEvery=10`;
    const started = Date.now();
    const pages = await openTabs(browser, 2, (i) => (i === 0 ? query : `${query}&data=local`));
    const local = pages[1]!;
    await chooseFolder(local, join(dir, 'wrong'));
    await expect(local.locator('#local-data-error')).toHaveText('wrong/3/big.bmp: the image is 32x32 pixels, the task takes 28x28', { timeout: 60_000 });
    await chooseFolder(local, join(dir, 'digits'));

    const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
    const seconds = (Date.now() - started) / 1000;
    const [shard, own] = statuses as [typeof statuses[0], typeof statuses[0]];
    expect(own.weightsHash).toBe(shard.weightsHash);
    expect(own.testAccuracy).toBe(shard.testAccuracy);
    expect(shard.data?.source).toBe('builtin');
    expect(shard.data?.trainExamples).toBe(30_000);
    expect(own.data?.source).toBe('local');
    expect(own.data?.files).toEqual(['digits']);
    expect(own.data?.trainExamples).toBe(count);
    expect(own.data?.classCounts).toEqual(Array.from({ length: 10 }, (_, c) => mnist.labels.subarray(mnist.count - count).filter((l) => l === c).length));
    expect(shard.testAccuracy!).toBeGreaterThan(0.75);
    console.log(`mixed room: a tab on its MNIST shard and a tab on ${count} own digit images, mlp, 100 steps (cpu): test accuracy ${shard.testAccuracy!.toFixed(3)}, ${seconds.toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
