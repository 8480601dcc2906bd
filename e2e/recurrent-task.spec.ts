/**
 * A recurrent model in tabs: two tabs name the example task `char-lstm` (a character LSTM on a
 * short story, examples/src/char-rnn) by URL and train it together over real WebRTC with PowerSGD
 * rank 2 and error feedback: the loss falls, both tabs hold the same weights at every step, and the
 * exchange is the rank-2 factors, not the dense gradient. The spirals example trains in tabs too,
 * and a task the page does not know is refused on the page.
 */
import { expect, test } from '@playwright/test';
import { BASE_URL, historyOf, openTabs, uniqueRoom, waitForTabs } from './harness.ts';

const STEPS = 60;
/** The model's parameters: embedding 29x16, LSTM 16x192 + 48x192 + 192, dense 48x29 + 29. */
const PARAMETERS = 29 * 16 + 16 * 192 + 48 * 192 + 192 + 48 * 29 + 29;

test('two tabs train a character LSTM with PowerSGD + error feedback: loss falls, replicas identical', async ({ browser }) => {
  const room = uniqueRoom('e2e-lstm');
  const query = `room=${room}&task=char-lstm&backend=cpu&workers=2&steps=${STEPS}&batchSize=32&lr=0.01&compressor=powersgd&rank=2&ef=ef14&evalEvery=30&evalSize=300&checkEvery=10`;
  const started = Date.now();
  const pages = await openTabs(browser, 2, query);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 4 * 60_000);
  const seconds = (Date.now() - started) / 1000;

  for (const s of statuses) {
    expect(s.task).toBe('char-lstm');
    expect(s.config?.task, 'the room names its task').toBe('char-lstm');
    expect(s.step).toBe(STEPS);
    expect(s.compressor).toMatch(/powersgd/);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
  }
  const histories = await Promise.all(pages.map(historyOf));
  // Identical replicas at every step, not only the last.
  expect(histories[1]!.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
  const losses = histories[0]!.map((r) => r.loss);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 10));
  const last = mean(losses.slice(-10));
  expect(last).toBeLessThan(0.85 * first);
  const sent = histories[0]!.at(-1)!.bytesSent;
  expect(sent, 'rank-2 factors, far below one fp32 copy of the gradient').toBeLessThan((4 * PARAMETERS) / 5);
  console.log(`char-lstm in 2 tabs (cpu), PowerSGD rank 2 + EF14: loss ${first.toFixed(3)} -> ${last.toFixed(3)} over ${STEPS} steps, accuracy ${statuses[0]!.testAccuracy?.toFixed(3)}, ${sent} bytes sent per step against ${4 * PARAMETERS} in fp32, ${seconds.toFixed(1)} s`);
});

test('two tabs train the spirals example named by URL to identical weights', async ({ browser }) => {
  const room = uniqueRoom('e2e-spirals');
  const pages = await openTabs(browser, 2, `room=${room}&task=spirals&backend=wasm&workers=2&steps=100&batchSize=32&lr=0.01&evalEvery=50&evalSize=600`);
  const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 3 * 60_000);
  for (const s of statuses) {
    expect(s.task).toBe('spirals');
    expect(s.backend).toBe('wasm');
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
  }
  expect(statuses[0]!.testAccuracy).toBeGreaterThan(0.6);
  console.log(`spirals in 2 tabs (wasm): test accuracy ${statuses[0]!.testAccuracy?.toFixed(3)} after 100 steps`);
});

test('a task the page does not know is said on the page, by name', async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${BASE_URL}/?room=${uniqueRoom('e2e-task')}&task=nonesuch`, { waitUntil: 'commit' });
  await expect(page.locator('#app')).toContainText('task must be one of spirals|char-lstm', { timeout: 30_000 });
});
