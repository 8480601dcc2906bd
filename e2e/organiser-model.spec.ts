/**
 * The organiser's own model: a conv net that is none of the built-ins (conv 8 5x5 -> max pool ->
 * conv 16 3x3 -> flatten -> dense 10 on MNIST), written by tfjs in this process as model.json and
 * its weights. A server started with `--model-file` checks and serves it; three tabs join the
 * organised room by its link, build the model from what the server serves, start from the file's
 * weights and train it to identical replicas. On the organiser page a model the server refuses
 * (batch normalization) is said by its error, and one the server accepts but no tab can build (a
 * kernel's shape swapped) makes the tab show the error without joining.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import * as tf from '@tensorflow/tfjs';
import { watchTab } from '@tabswarm/launch';
import { hashArrays } from '@tabswarm/shared';
import { SERVED_MODEL_TASK } from '@tabswarm/shared/protocol';
import { convNet, modelFiles, type ModelFiles } from '@tabswarm/shared/testing';
import { historyOf, openTabs, status, waitForTabs } from './harness.ts';
import { KillableServer } from './killable-server.ts';

const TOKEN = 'e2e-organiser-model-token-0123';
const STEPS = 60;
const ACCURACY = 0.8;
const RUN = ['--workers', '3', '--steps', String(STEPS), '--batchSize', '32', '--lr', '0.003', '--evalEvery', '20', '--evalSize', '500'];

async function saved(model: tf.LayersModel): Promise<ModelFiles & { arrays: Float32Array[] }> {
  const arrays = model.trainableWeights.map((w) => (w.read().dataSync() as Float32Array).slice());
  const files = await modelFiles(model);
  model.dispose();
  return { ...files, arrays };
}

/** model.json and its weights file in a fresh folder, as an organiser keeps them. */
function written(dir: string, files: ModelFiles): string[] {
  const paths = [join(dir, 'model.json')];
  writeFileSync(paths[0]!, files.modelJson);
  if (files.weights) {
    paths.push(join(dir, files.weights.name));
    writeFileSync(paths[1]!, files.weights.bytes);
  }
  return paths;
}

async function organiserPage(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext({ httpCredentials: { username: 'organiser', password: TOKEN } })).newPage();
  watchTab(page, (line) => console.log(`[organiser] ${line}`), { errorsOnly: true });
  await page.goto(`${url}/organise`);
  return page;
}

/** Creates `room` on the organiser page with `files` chosen in its file input. */
async function createWithModel(page: Page, room: string, files: string[]): Promise<void> {
  await page.locator('input[name="room"]').fill(room);
  await page.locator('input[name="model-file"]').setInputFiles(files);
  await page.locator('#create-room').click();
}

test.beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('three tabs train the organiser\'s conv net served by --model-file, from its weights, to identical replicas', async ({ browser }) => {
  const dir = mkdtempSync(join(tmpdir(), 'tabswarm-e2e-model-'));
  const net = await saved(convNet());
  const [modelPath] = written(dir, net);
  const server = await KillableServer.start({ args: ['--admin-token', TOKEN, '--room', 'lab', '--model-file', modelPath!, ...RUN] });
  try {
    const started = Date.now();
    const pages = await openTabs(browser, 3, 'room=lab&join=ok', undefined, server.url);
    const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done'), 8 * 60_000);
    const seconds = (Date.now() - started) / 1000;
    const task = statuses[0]!.config!.task;
    expect(task).toMatch(SERVED_MODEL_TASK);
    for (const s of statuses) {
      expect(s.task).toBe(task);
      expect(s.organised).toBe(true);
      expect(s.step).toBe(STEPS);
      expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    }
    const histories = await Promise.all(pages.map(historyOf));
    for (const h of histories.slice(1)) expect(h.map((r) => r.weightsHash), 'identical replicas at every step').toEqual(histories[0]!.map((r) => r.weightsHash));
    const accuracy = statuses[0]!.testAccuracy!;
    expect(accuracy).toBeGreaterThan(ACCURACY);
    await pages[0]!.context().close();
    console.log(`organiser's conv net (17,386 values, file weights ${hashArrays(net.arrays)}) in 3 tabs (${statuses[0]!.backend}): ${STEPS} steps in ${seconds.toFixed(1)} s, test accuracy ${accuracy.toFixed(3)}, hash ${statuses[0]!.weightsHash}`);
  } finally {
    await server.kill();
    rmSync(dir, { recursive: true });
  }
});

test('on the organiser page: a model the server refuses is said by name; one no tab can build makes the tab say so, unjoined', async ({ browser }) => {
  const dir = mkdtempSync(join(tmpdir(), 'tabswarm-e2e-model-'));
  const server = await KillableServer.start({ args: ['--admin-token', TOKEN] });
  try {
    const page = await organiserPage(browser, server.url);
    const normalized = await saved(tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.batchNormalization(), tf.layers.dense({ units: 10 })] }));
    await createWithModel(page, 'normalized', written(mkdtempSync(join(dir, 'n-')), normalized));
    await expect(page.locator('#error')).toContainText(/creating the room failed: ModelFileError: non-trainable: layer "batch_normalization_BatchNormalization\d+" of class "BatchNormalization" has non-trainable weights/, { timeout: 15_000 });
    await expect(page.locator('section[data-room="normalized"]')).toHaveCount(0);

    // Sizes fit the manifest (all the server can check); the first kernel's shape fits no Conv2D of 8 filters.
    const net = await saved(convNet());
    const swapped = { ...net, modelJson: net.modelJson.replace('"shape":[5,5,1,8]', '"shape":[5,5,8,1]') };
    await createWithModel(page, 'swapped', written(mkdtempSync(join(dir, 's-')), swapped));
    const card = page.locator('section[data-room="swapped"]');
    await expect(card.locator('h2')).toContainText('(organised)', { timeout: 15_000 });
    await expect(card).toContainText(/config: task=model-[0-9a-f]{16}/);
    const [tab] = await openTabs(browser, 1, 'room=swapped&join=ok', undefined, server.url);
    await expect.poll(async () => (await status(tab!)).state, { timeout: 60_000 }).toBe('error');
    const failed = await status(tab!);
    expect(failed.error).toMatch(/^ModelFileError: unbuildable: this tab cannot build the room's model: .*Shape mismatch: \[5,5,1,8\] vs. \[5,5,8,1\]/);
    expect(failed.peerId, 'it never joined').toBeNull();
    await expect(tab!.locator('#app')).toContainText('ModelFileError: unbuildable');
    await expect(card).toContainText('0 members');
    await tab!.context().close();
    await page.context().close();
  } finally {
    await server.kill();
    rmSync(dir, { recursive: true });
  }
});
