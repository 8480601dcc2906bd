/**
 * Workers started from code: two Node workers in this process, each given the same custom task
 * (a tfjs-layers model on synthetic data), train together over real WebRTC against a real
 * signaling server, and give back status(), history(), events() and stop(). The room names its
 * task: a worker with another refuses it. A task module that exports no task is refused by name.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { builtinTasks, fromLayersModel, type Task } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import { startNodeWorker } from './start-node-worker.ts';
import { importTask } from './task-module.ts';
import type { Worker } from '../worker.ts';

const STEPS = 4;

const quadrants: Task = {
  name: 'quadrants-dense',
  dataset: 'quadrants',
  loadData: () => Promise.resolve({ train: quadrantImages(64, 6, 1), test: quadrantImages(16, 6, 2) }),
  createModel: (data) => fromLayersModel(tf.sequential({ layers: [tf.layers.flatten({ inputShape: [...data.shape] }), tf.layers.dense({ units: data.classes })] })),
};

/** Resolves when `worker` has finished, or fails after `ms`. */
async function finished(worker: Worker, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker still at step ${worker.status().step} after ${ms} ms: ${worker.status().error ?? ''}`)), ms);
  });
  try {
    await Promise.race([worker.finished, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('two Node workers started from code train a custom task together', { timeout: 90_000 }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  const params = { workers: '2', steps: String(STEPS), batchSize: '8', evalEvery: '2', evalSize: '16' };
  let updates = 0;
  const workers = [0, 1].map(() => startNodeWorker({ task: quadrants, signalingUrl: server.url, room: 'from-code', params, onUpdate: () => void updates++ }));
  t.after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await server.close();
  });
  await Promise.all(workers.map((w) => finished(w, 60_000)));
  for (const w of workers) {
    const s = w.status();
    assert.equal(s.state, 'done', s.error ?? '');
    assert.equal(s.task, 'quadrants-dense');
    assert.equal(s.step, STEPS);
    assert.deepEqual(w.history().map((r) => r.step), [1, 2, 3, 4]);
    assert.equal(s.weightsHash, workers[0]!.status().weightsHash);
    assert.ok(w.events().some((e) => e.kind === 'done'), 'the run\'s end is an event');
  }
  assert.ok(updates > 0, 'onUpdate is called');
  await Promise.all(workers.map((w) => w.stop()));
  assert.equal(workers[0]!.status().state, 'done', 'status() still answers after stop()');
});

test('the room names its task: a worker running another task refuses the room, saying which', { timeout: 60_000 }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  const params = { workers: '2', steps: '2', batchSize: '8', evalSize: '16' };
  const opener = startNodeWorker({ task: quadrants, signalingUrl: server.url, room: 'one-task', params });
  const other = startNodeWorker({ task: { ...quadrants, name: 'other-task' }, signalingUrl: server.url, room: 'one-task', params });
  const builtin = startNodeWorker({ task: builtinTasks(quadrants.loadData), signalingUrl: server.url, room: 'one-task', params });
  t.after(async () => {
    await Promise.all([opener, other, builtin].map((w) => w.stop()));
    await server.close();
  });
  await Promise.all([other, builtin].map((w) => finished(w, 30_000)));
  assert.equal(other.status().state, 'error');
  assert.match(other.status().error ?? '', /room one-task trains the task quadrants-dense; this member runs the task other-task/);
  assert.match(builtin.status().error ?? '', /room one-task trains the task quadrants-dense; this member runs the built-in task of model=mlp/);
  assert.equal(opener.status().config?.task, 'quadrants-dense');
});

test('a task module must export a task; one that does not, or does not load, is refused by name', async () => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  await assert.rejects(importTask(join(here, 'fixtures', 'not-a-task.ts')), { name: 'ConfigError', message: /does not export a task: .* it exports model/ });
  await assert.rejects(importTask(join(here, 'fixtures', 'no-such-file.ts')), { name: 'ConfigError', message: /cannot import the task module/ });
  const spirals = await importTask(join(here, '..', '..', '..', 'examples', 'src', 'spirals-task.ts'));
  assert.equal(spirals.name, 'spirals');
});
