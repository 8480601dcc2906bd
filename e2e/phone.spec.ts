/**
 * A training tab on a phone-sized screen (390 x 844 CSS pixels, pixel ratio 3): nothing wider than
 * the screen, every plot inside it and tall enough to read, its labels drawn at 10 px or more
 * (as shown, after any scaling of the canvas), and a screenshot kept under test-results. Then the
 * Leave button, mid-run: training stops and the tab is out of the room.
 */
import { expect, test } from '@playwright/test';
import { watchTab } from '@tabswarm/launch';
import { BASE_URL, status, uniqueRoom, waitForTabs } from './harness.ts';

const WIDTH = 390;
const HEIGHT = 844;
const MIN_PLOT_HEIGHT = 120;
const MIN_LABEL_PX = 10;
/** More than the test waits for: the tab is still training when Leave is pressed. */
const STEPS = 400;

test('a training tab at 390 px width: no horizontal overflow, plots fit and their labels are legible', async ({ browser }, testInfo) => {
  const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT }, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  watchTab(page, (line) => console.log(`[phone] ${line}`), { errorsOnly: true });
  await page.goto(`${BASE_URL}/?room=${uniqueRoom('phone')}&workers=1&steps=${STEPS}&evalEvery=5&model=mlp`, { waitUntil: 'commit' });
  await waitForTabs([page], (s) => s[0]!.step >= 12, 3 * 60_000);
  // The plots are drawn on the next frame after a status change.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));

  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    plots: Array.from(document.querySelectorAll<HTMLCanvasElement>('canvas.plot')).map((canvas) => {
      const box = canvas.getBoundingClientRect();
      // The label size as seen: drawn at labelPx canvas-CSS pixels, scaled by shown width over drawn width.
      const drawnCssWidth = canvas.width / window.devicePixelRatio;
      return { id: canvas.id, left: box.left, right: box.right, width: box.width, height: box.height, labelPx: Number(canvas.dataset.labelPx) * (box.width / drawnCssWidth) };
    }),
  }));
  console.log(`phone layout: ${JSON.stringify(layout)}`);
  expect(layout.innerWidth).toBe(WIDTH);
  expect(layout.scrollWidth).toBeLessThanOrEqual(WIDTH);
  expect(layout.plots.map((p) => p.id)).toEqual(['plot-loss', 'plot-accuracy', 'plot-bytes']);
  for (const plot of layout.plots) {
    expect(plot.left, plot.id).toBeGreaterThanOrEqual(0);
    expect(plot.right, plot.id).toBeLessThanOrEqual(WIDTH);
    expect(plot.width, plot.id).toBeGreaterThan(WIDTH / 2);
    expect(plot.height, plot.id).toBeGreaterThanOrEqual(MIN_PLOT_HEIGHT);
    expect(plot.labelPx, plot.id).toBeGreaterThanOrEqual(MIN_LABEL_PX);
  }
  await page.locator('#plot-loss').scrollIntoViewIfNeeded();
  await page.screenshot({ path: testInfo.outputPath('phone-390x844.png'), fullPage: true });

  await page.locator('#leave').click();
  const [left] = await waitForTabs([page], (s) => s[0]!.state === 'left', 15_000);
  expect(left!.left).toBe('left the room');
  expect(left!.signaling.state).toBe('closed');
  expect(left!.step).toBeLessThan(STEPS);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect((await status(page)).step, 'no step after leaving').toBe(left!.step);
  await expect(page.locator('#notice')).toHaveText('Out of the room: left the room.');
  await context.close();
});
