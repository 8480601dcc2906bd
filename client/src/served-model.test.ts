/**
 * A room's model from its server, as a tab builds it: the task fetches model.json (and weights)
 * from a real signaling server, builds a fresh model per session, and starts every replica from
 * the file's weights (a resumed run: the weights a finished room's download holds, bit for bit)
 * or from the seed. A model the tab cannot build, or one that does not fit the room's data, is a
 * ModelFileError before it joins. Two members train a served model with identical replicas, in
 * memory and as Node workers in an organised room over WebRTC.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer, prepareModel, type ListeningServer, type StoredModel } from '@tabswarm/signaling-server';
import { DEFAULT_CONFIG, hashArrays, InMemoryNetwork, Messenger, TrainingSession, type TaskData } from '@tabswarm/shared';
import { modelFiles, quadrantImages, trainTaskInMemory, type ModelFiles } from '@tabswarm/shared/testing';
import { exportLayersModel, exportTaskModel } from './layers-export.ts';
import { loadServedModel, roomTasks, servedModelTask } from './served-model.ts';
import { startNodeWorker } from './node/start-node-worker.ts';

const data: TaskData = { train: quadrantImages(96, 28, 1), test: quadrantImages(32, 28, 2) };
const loadData = (): Promise<TaskData> => Promise.resolve(data);
const LIMITS = { maxBytes: 1 << 20, maxParameters: 100_000 };

/** conv 8 5x5 -> max pool -> conv 16 3x3 -> flatten -> dense, on the quadrants' 28x28x1 and 4 classes. */
function convNet(classes = 4): tf.Sequential {
  return tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
    tf.layers.flatten(),
    tf.layers.dense({ units: classes }),
  ] });
}

async function saved(model: tf.LayersModel, withWeights = true): Promise<ModelFiles> {
  const files = await modelFiles(model, withWeights);
  model.dispose();
  return files;
}

function stored(files: ModelFiles): StoredModel {
  return prepareModel(files.modelJson, new Map(files.weights ? [[files.weights.name, files.weights.bytes]] : []), LIMITS);
}

/** The weights hash of a session over `model` before its first step: what the first step starts from. */
function firstStepHash(task: ReturnType<typeof servedModelTask>, seed: number): string {
  const config = { ...DEFAULT_CONFIG, seed, evalSize: 16 };
  const model = task.createModel(data.train, config);
  const messenger = new Messenger(new InMemoryNetwork().join('a'));
  const session = new TrainingSession({ selfId: 'a', config, messenger, model, train: data.train, test: data.test, connect: () => Promise.resolve() });
  try {
    return session.weightsHash;
  } finally {
    session.dispose();
    messenger.dispose();
    model.dispose();
  }
}

describe('a served model in a tab', () => {
  let server: ListeningServer;
  let withWeights: StoredModel;
  let topologyOnly: StoredModel;
  let resumed: StoredModel;
  let uploaded: Float32Array[];
  let wrongInput: StoredModel;
  let swappedKernel: StoredModel;
  let small: StoredModel;

  before(async () => {
    await tf.setBackend('cpu');
    withWeights = stored(await saved(convNet()));
    topologyOnly = stored(await saved(convNet(), false));
    // A finished built-in room's download: the cnn's Layers export of its weights.
    uploaded = tf.tidy(() => [[3, 3, 1, 8], [8], [3, 3, 8, 16], [16], [400, 4], [4]].map((shape, i) => tf.randomNormal(shape, 0, 0.1, 'float32', i + 1).dataSync() as Float32Array));
    const exported = await exportLayersModel({ name: 'cnn', inputShape: [28, 28, 1], classes: 4 }, uploaded, 'finished-step150');
    resumed = prepareModel(JSON.stringify(exported.modelJson), new Map([[exported.weightsPath, new Uint8Array(exported.weightData)]]), LIMITS);
    wrongInput = stored(await saved(tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 4 })] })));
    // Sizes fit the manifest (the server cannot tell), the shape does not fit the layer.
    const files = await saved(convNet());
    swappedKernel = stored({ ...files, modelJson: files.modelJson.replace('"shape":[5,5,1,8]', '"shape":[5,5,8,1]') });
    small = stored(await saved(tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 16, activation: 'relu' }), tf.layers.dense({ units: 4 })] }), false));
    server = await listenSignalingServer({ models: [withWeights, topologyOnly, resumed, wrongInput, swappedKernel, small], log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  });
  after(() => server.close());

  it('builds the served conv net with the file\'s weights, the same bits for every seed and replica; no tensor left', async () => {
    const task = servedModelTask(withWeights.task, loadData, server.url);
    assert.equal(task.name, withWeights.task);
    await task.loadData(AbortSignal.timeout(30_000));
    const baseline = tf.memory().numTensors;
    const model = task.createModel(data.train, DEFAULT_CONFIG);
    assert.deepEqual(model.layers.map((l) => l.shape), [[5, 5, 1, 8], [8], [3, 3, 8, 16], [16], [1600, 4], [4]]);
    const bytes = withWeights.weights!;
    const fileWeights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const expected = hashArrays(model.layers.reduce<{ arrays: Float32Array[]; at: number }>((acc, l) => {
      const size = l.shape.reduce((a, b) => a * b, 1);
      return { arrays: [...acc.arrays, fileWeights.slice(acc.at, acc.at + size)], at: acc.at + size };
    }, { arrays: [], at: 0 }).arrays);
    assert.equal(hashArrays(model.initialWeights(1)), expected);
    assert.equal(hashArrays(model.initialWeights(2)), expected, 'the file\'s weights, whatever the seed');
    model.dispose();
    assert.equal(tf.memory().numTensors, baseline);
  });

  it('resume: a finished room\'s downloaded model starts the new run from its weights (first step\'s hash = the upload\'s)', async () => {
    const task = servedModelTask(resumed.task, loadData, server.url);
    await task.loadData(AbortSignal.timeout(30_000));
    assert.equal(firstStepHash(task, 42), hashArrays(uploaded));
    assert.equal(firstStepHash(task, 7), hashArrays(uploaded));
  });

  it('a served model\'s room downloads its trained model in the same topology, which resumes a run again', async () => {
    const task = servedModelTask(withWeights.task, loadData, server.url);
    await task.loadData(AbortSignal.timeout(30_000));
    const model = task.createModel(data.train, DEFAULT_CONFIG);
    const trained = model.initialWeights(1).map((w, i) => w.map((v, j) => v + 0.001 * ((i + j) % 7)));
    model.dispose();
    const baseline = tf.memory().numTensors;
    const files = await exportTaskModel(task, data.train, DEFAULT_CONFIG, trained, 'served-step40');
    assert.equal(tf.memory().numTensors, baseline, 'the export disposes the model');
    const again = prepareModel(JSON.stringify(files.modelJson), new Map([[files.weightsPath, new Uint8Array(files.weightData)]]), LIMITS);
    assert.equal(again.parameters, withWeights.parameters);
    const weights = again.weights!;
    const loaded = await loadServedModel(again.modelJson, weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length) as ArrayBuffer, data.train);
    assert.equal(hashArrays(loaded.initialWeights!), hashArrays(trained));
  });

  it('without weights: the seeded initializer, as for any task', async () => {
    const task = servedModelTask(topologyOnly.task, loadData, server.url);
    await task.loadData(AbortSignal.timeout(30_000));
    const seeded = servedModelTask(withWeights.task, loadData, server.url);
    await seeded.loadData(AbortSignal.timeout(30_000));
    assert.equal(firstStepHash(task, 42), firstStepHash(task, 42));
    assert.notEqual(firstStepHash(task, 42), firstStepHash(task, 43));
    assert.notEqual(firstStepHash(task, 42), firstStepHash(seeded, 42));
  });

  it('a model the tab cannot build or that does not fit the data is a ModelFileError, by reason', async () => {
    const load = (task: string): Promise<TaskData> => servedModelTask(task, loadData, server.url).loadData(AbortSignal.timeout(30_000));
    await assert.rejects(load(wrongInput.task), { name: 'ModelFileError', reason: 'unbuildable', message: /takes inputs of shape \[6\], the room's examples have shape \[28, 28, 1\]/ });
    await assert.rejects(load(swappedKernel.task), { name: 'ModelFileError', reason: 'unbuildable', message: /^unbuildable: this tab cannot build the room's model: .*shape/i });
    await assert.rejects(load('model-0000000000000000'), { name: 'ModelFileError', message: /answered 404/ });
  });

  it('two members train a served model (a small one: this is cpu tfjs): identical replicas, the loss falls', { timeout: 120_000 }, async () => {
    const task = servedModelTask(small.task, loadData, server.url);
    const members = await trainTaskInMemory(task, { ...DEFAULT_CONFIG, steps: 30, batchSize: 16, lr: 0.003, evalEvery: 30, evalSize: 32 }, 2);
    for (const m of members) assert.equal(m.state, 'done', m.error ?? '');
    assert.equal(members[0]!.weightsHash, members[1]!.weightsHash);
    const losses = members[0]!.history.map((r) => r.loss);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-5)) < 0.7 * mean(losses.slice(0, 5)), `loss ${mean(losses.slice(0, 5))} -> ${mean(losses.slice(-5))}`);
  });

  it('roomTasks: the built-in task or the served model by the room\'s keys, on one data load', async () => {
    let loads = 0;
    const choose = roomTasks(() => {
      loads++;
      return loadData();
    }, server.url);
    const builtin = choose({ ...DEFAULT_CONFIG, model: 'cnn' });
    const served = choose({ ...DEFAULT_CONFIG, task: small.task });
    assert.deepEqual([builtin.name, served.name], ['mnist-cnn', small.task]);
    assert.equal(choose({ ...DEFAULT_CONFIG, task: small.task }), served, 'one task per name');
    const [a, b] = await Promise.all([builtin.loadData(AbortSignal.timeout(30_000)), served.loadData(AbortSignal.timeout(30_000))]);
    assert.equal(a, b);
    assert.equal(loads, 1);
  });

  it('two Node workers join an organised room on a served model and train it to identical replicas over WebRTC', { timeout: 120_000 }, async (t) => {
    const organised = await listenSignalingServer({ models: [small], rooms: [{ room: 'lab', config: { task: small.task, workers: 2, steps: 6, batchSize: 16, evalEvery: 3, evalSize: 32 } }], log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
    const workers = [0, 1].map(() => startNodeWorker({ task: roomTasks(loadData, organised.url), signalingUrl: organised.url, room: 'lab' }));
    t.after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await organised.close();
    });
    await Promise.all(workers.map((w) => w.finished));
    for (const w of workers) {
      const s = w.status();
      assert.equal(s.state, 'done', s.error ?? '');
      assert.deepEqual([s.task, s.step, s.weightsHash], [small.task, 6, workers[0]!.status().weightsHash]);
    }
    assert.deepEqual(workers[1]!.history().map((r) => r.weightsHash), workers[0]!.history().map((r) => r.weightsHash));
  });

  it('a worker whose served model fails to build says why and never joins the room', { timeout: 60_000 }, async () => {
    const worker = startNodeWorker({ task: (config) => servedModelTask(config.task, loadData, server.url), signalingUrl: server.url, room: 'bad-model', params: { task: swappedKernel.task } });
    await worker.finished;
    assert.equal(worker.status().state, 'error');
    assert.match(worker.status().error ?? '', /^ModelFileError: unbuildable: this tab cannot build the room's model: .*Shape mismatch: \[5,5,1,8\] vs. \[5,5,8,1\]/);
    assert.equal(worker.status().peerId, null, 'it never joined');
    assert.deepEqual(server.signaling.rooms().map((r) => r.room), []);
    await worker.stop();
  });
});
