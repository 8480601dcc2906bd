/**
 * An organiser runs a room: the server starts with an admin token; the organiser page (behind it)
 * creates a room with its form; three tabs join through the invite link read from the page, each
 * with conflicting URL keys appended, and all train the organiser's configuration. The first one
 * is asked before anything heavy starts and joins with the page's Join button; the others accept
 * by URL (`join=ok`). The page lists them progressing; removing one from the page evicts it (its
 * tab says the organiser removed it) and the other two finish with identical replicas. The page's
 * Download model says nobody holds a model before anyone joined, saves the state of the run under
 * way, and after the run the final model, which tf.loadLayersModel in Node evaluates on the room's
 * evaluation subset to exactly the accuracy the room reported (the same 1000 examples through the
 * same weights: any difference would be a wrong weight or a wrong subset). A second test downloads
 * a room of the spirals example task the same way: its own tfjs-layers network, and in Node the
 * room's accuracy on its 600 test points.
 */
import { expect, test, type Page } from '@playwright/test';
import { watchTab } from '@tabswarm/launch';
import { task as spirals } from '../examples/src/spirals-task.ts';
import { E2E_PORT, historyOf, openTabs, status, uniqueRoom, waitForTabs } from './harness.ts';
import { KillableServer } from './killable-server.ts';
import { accuracyInNode, readModelFiles, type ModelFiles } from './model-files.ts';

const TOKEN = 'e2e-organiser-token-0123456789';
/** Long enough that the removal (after the page showed the step rising) falls mid-run on a fast machine too. */
const STEPS = 150;
const CONFIG = { model: 'mlp', compressor: 'powersgd', rank: '4', workers: '3', steps: String(STEPS), evalEvery: '5', batchSize: '32' };
/** What every joiner's URL asks for instead: the room must ignore it. */
const CONFLICTING = 'model=cnn&compressor=none&steps=5';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The organiser page's summary of `room`: members listed and the step shown. */
async function listed(page: Page, room: string): Promise<{ members: number; step: number | null }> {
  const card = page.locator(`section[data-room="${room}"]`);
  const members = await card.locator('tr[data-peer]').count();
  const summary = await card.locator('.summary').textContent() ?? '';
  const step = /step (\d+) \//.exec(summary)?.[1];
  return { members, step: step === undefined ? null : Number(step) };
}

/** Parameters of the mlp (784-256-10), 4 bytes each. */
const MLP_BYTES = 4 * (784 * 256 + 256 + 256 * 10 + 10);

/** Clicks Download model on `room`'s card and reads back the two files the page saves. */
async function downloadFromPage(organiser: Page, room: string): Promise<{ names: string[]; files: ModelFiles; seconds: number }> {
  const saved = ['.json', '.weights.bin'].map((end) => organiser.waitForEvent('download', { predicate: (d) => d.suggestedFilename().endsWith(end), timeout: 120_000 }));
  const clicked = Date.now();
  await organiser.locator(`section[data-room="${room}"] button.download-model`).click();
  const [json, weights] = await Promise.all(saved);
  const seconds = (Date.now() - clicked) / 1000;
  return { names: [json!.suggestedFilename(), weights!.suggestedFilename()], files: await readModelFiles(await json!.path(), await weights!.path()), seconds };
}

async function pollPage<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const start = Date.now();
  let last = await read();
  while (!done(last)) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
    await sleep(500);
    last = await read();
  }
  return last;
}

test('an organiser creates a room on the page; three tabs join by its invite link and train its configuration; one is removed', async ({ browser }, testInfo) => {
  const server = await KillableServer.start({ port: E2E_PORT + 1, args: ['--admin-token', TOKEN] });
  const room = uniqueRoom('organised');
  try {
    // Without the token the page and its list answer 401.
    for (const path of ['/organise', '/organise/api/rooms']) expect((await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(5000) })).status).toBe(401);

    const organiserContext = await browser.newContext({ httpCredentials: { username: 'organiser', password: TOKEN } });
    const organiser = await organiserContext.newPage();
    watchTab(organiser, (line) => console.log(`[organiser] ${line}`), { errorsOnly: true });
    await organiser.goto(`${server.url}/organise`);
    await organiser.locator('input[name="room"]').fill(room);
    for (const [key, value] of Object.entries(CONFIG)) await organiser.locator(`input[name="${key}"]`).fill(value);
    await organiser.locator('#create-room').click();
    const card = organiser.locator(`section[data-room="${room}"]`);
    await expect(card.locator('h2')).toContainText('(organised)', { timeout: 10_000 });
    // Nobody holds a model yet: Download model says so.
    await card.locator('button.download-model').click();
    await expect(card.locator('.download-error')).toHaveText(`no model: ModelUnavailableError: room ${room} has no member: nobody holds its model`, { timeout: 60_000 });
    const invite = await card.locator('a.invite').getAttribute('href');
    expect(invite).toBe(`${server.url}/?room=${room}`);
    // The QR code loaded (an SVG of the invite link, behind the same token).
    await expect.poll(() => card.locator('img.qr').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);

    const tabs = await browser.newContext();
    const pages: Page[] = [];
    for (let i = 0; i < 3; i++) {
      const page = await tabs.newPage();
      watchTab(page, (line) => console.log(`[tab ${i}] ${line}`), { errorsOnly: true });
      await page.goto(`${invite}&${CONFLICTING}${i === 0 ? '' : '&join=ok'}`, { waitUntil: 'commit' });
      pages.push(page);
    }

    // The first tab is asked, and nothing heavy has started: no backend, no data.
    const asked = pages[0]!.locator('#consent');
    await expect(asked).toBeVisible({ timeout: 30_000 });
    await expect(asked).toContainText('a small multilayer perceptron');
    await expect(asked).toContainText('The data stays in this tab');
    await expect(asked).toContainText('this link\'s model, steps, compressor are ignored');
    const waiting = await status(pages[0]!);
    expect(waiting.consent?.state).toBe('asking');
    expect(waiting.consent!.downloadBytes).toBeGreaterThan(1_000_000);
    expect(waiting.backend).toBeNull();
    expect(waiting.data).toBeNull();
    await pages[0]!.screenshot({ path: testInfo.outputPath('consent.png') });
    await pages[0]!.locator('#consent-join').click();

    const training = await waitForTabs(pages, (s) => s.every((t) => t.state === 'training' && t.step >= 3 && t.peers.length === 2), 4 * 60_000);
    for (const s of training) {
      expect(s.organised).toBe(true);
      expect(s.config).toMatchObject({ model: 'mlp', compressor: 'powersgd', rank: 4, workers: 3, steps: STEPS });
      expect(s.compressor).toMatch(/^powersgd/);
      expect(s.ignoredKeys).toEqual(['model', 'steps', 'compressor']);
    }
    expect(training[0]!.consent?.state).toBe('given');
    await expect(pages[1]!.locator('#notice')).toContainText('An organiser set this room\'s configuration');

    // The organiser sees three members progressing.
    const first = await pollPage('three members listed with a step', () => listed(organiser, room), (l) => l.members === 3 && l.step !== null, 30_000);
    const later = await pollPage('the listed step rising', () => listed(organiser, room), (l) => l.step !== null && l.step > first.step! + 2, 60_000);
    console.log(`organiser page: 3 members, step ${first.step} -> ${later.step}`);
    await expect(card.locator('.summary')).toContainText(/steps\/s/);
    await organiser.screenshot({ path: testInfo.outputPath('organiser.png'), fullPage: true });

    // Remove the third tab from the page.
    const removedId = training[2]!.peerId!;
    await card.locator(`tr[data-peer="${removedId}"] button.remove`).click();
    const [removed] = await waitForTabs([pages[2]!], (s) => s[0]!.state === 'left', 30_000);
    expect(removed!.left).toMatch(/removed from room .* by its organiser/);
    await expect(pages[2]!.locator('#notice')).toContainText('by its organiser');
    await pollPage('two members listed', () => listed(organiser, room), (l) => l.members === 2, 30_000);

    // Mid-run, Download model saves the state a member holds now.
    const midRun = await downloadFromPage(organiser, room);
    const midStep = Number(/-step(\d+)\.json$/.exec(midRun.names[0]!)?.[1]);
    expect(midStep).toBeGreaterThan(0);
    expect(midStep).toBeLessThan(STEPS);
    expect(midRun.names).toEqual([`${room}-step${midStep}.json`, `${room}-step${midStep}.weights.bin`]);
    expect(midRun.files.weights.byteLength).toBe(MLP_BYTES);
    await expect(card.locator('.download-status')).toContainText(`saved step ${midStep} (weights `);
    console.log(`organiser's download mid-run: step ${midStep} in ${midRun.seconds.toFixed(1)} s`);

    const stayed = pages.slice(0, 2);
    const done = await waitForTabs(stayed, (s) => s.every((t) => t.state === 'done'), 5 * 60_000);
    for (const s of done) {
      expect(s.step).toBe(STEPS);
      expect(s.peers).not.toContain(removedId);
      expect(s.weightsHash).toBe(done[0]!.weightsHash);
    }
    const histories = await Promise.all(stayed.map(historyOf));
    expect(histories[1]!.at(-1)!.weightsHash).toBe(histories[0]!.at(-1)!.weightsHash);
    const after = await status(pages[2]!);
    expect(after.state).toBe('left');
    expect(after.step).toBeLessThan(STEPS);
    console.log(`removed at step ${removed!.step}; the other two finished ${STEPS} steps with hash ${done[0]!.weightsHash}, accuracy ${done[0]!.testAccuracy}`);

    // After the run, the organiser downloads the trained model from the page.
    const final = await downloadFromPage(organiser, room);
    expect(final.names).toEqual([`${room}-step${STEPS}.json`, `${room}-step${STEPS}.weights.bin`]);
    await expect(card.locator('.download-status')).toHaveText(`saved step ${STEPS} (weights ${done[0]!.weightsHash}): ${final.names.join(', ')}`);
    expect(final.files.weights.byteLength).toBe(MLP_BYTES);
    // The observer it joined as has left: nobody observes the room any more.
    await expect.poll(async () => (await status(stayed[0]!)).observers, { timeout: 10_000 }).toEqual([]);
    // The same evalSize test examples (the room's seeded subset) through the same weights: the same count correct.
    const accuracy = await accuracyInNode(final.files, done[0]!.config!);
    const { finished } = await status(stayed[0]!);
    console.log(`organiser's download after the run: ${final.seconds.toFixed(1)} s; in Node, test accuracy ${accuracy} on ${done[0]!.config!.evalSize} examples (the tabs: ${done[0]!.testAccuracy}; the room's finished record: ${finished?.testAccuracy})`);
    expect(accuracy).toBe(done[0]!.testAccuracy);
    expect(finished).toEqual({ step: STEPS, hash: done[0]!.weightsHash, testAccuracy: done[0]!.testAccuracy });
    await tabs.close();
    await organiserContext.close();
  } finally {
    await server.kill();
  }
});

test('the organiser downloads the model of an example task\'s room (spirals): its own layers, the room\'s accuracy in Node', async ({ browser }) => {
  const server = await KillableServer.start({ port: E2E_PORT + 1, args: ['--admin-token', TOKEN] });
  const room = uniqueRoom('spirals');
  try {
    const steps = 40;
    const tabs = await openTabs(browser, 2, `room=${room}&task=spirals&backend=cpu&workers=2&steps=${steps}&batchSize=32&lr=0.01&evalEvery=10&evalSize=600`, undefined, server.url);
    const done = await waitForTabs(tabs, (s) => s.every((t) => t.state === 'done'), 3 * 60_000);
    expect(done[1]!.weightsHash).toBe(done[0]!.weightsHash);

    const organiserContext = await browser.newContext({ httpCredentials: { username: 'organiser', password: TOKEN } });
    const organiser = await organiserContext.newPage();
    watchTab(organiser, (line) => console.log(`[organiser] ${line}`), { errorsOnly: true });
    await organiser.goto(`${server.url}/organise`);
    const download = await downloadFromPage(organiser, room);
    expect(download.names).toEqual([`${room}-step${steps}.json`, `${room}-step${steps}.weights.bin`]);
    await expect(organiser.locator(`section[data-room="${room}"] .download-status`)).toContainText(`saved step ${steps} (weights ${done[0]!.weightsHash})`);
    // The task's own network: dense 2->32, 32->32, 32->3, with biases.
    expect(download.files.weights.byteLength).toBe(4 * (2 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3));
    expect(JSON.stringify(download.files.json.modelTopology)).toContain('"class_name":"Dense"');
    const { test: points } = await spirals.loadData(AbortSignal.timeout(5_000));
    const accuracy = await accuracyInNode(download.files, done[0]!.config!, points);
    console.log(`spirals room: downloaded from the page in ${download.seconds.toFixed(1)} s; in Node, test accuracy ${accuracy} on ${done[0]!.config!.evalSize} points (the room: ${done[0]!.testAccuracy})`);
    expect(accuracy).toBe(done[0]!.testAccuracy);
    await organiserContext.close();
    await tabs[0]!.context().close();
  } finally {
    await server.kill();
  }
});
