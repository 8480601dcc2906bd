/**
 * Sessions over example stores (a tab's way: the shard fetched by byte range, bytes held) train
 * exactly as sessions over the whole data set in memory: same batches, same weights at every step.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { ExampleStore, MemoryRangeReader, type Examples } from '../data/example-store.ts';
import { parseMnist } from '../data/mnist.ts';
import { Model } from '../model/model.ts';
import { idxFiles } from '../testing/idx-fixture.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';
import { parseRunConfig, type RunConfig } from './config.ts';
import { assignShard } from './shard.ts';
import { TrainingSession } from './session.ts';

const SIDE = 5;
const train = idxFiles(400, SIDE, 1);
const testFiles = idxFiles(100, SIDE, 2);
const never = new AbortController().signal;

before(async () => {
  await tf.setBackend('cpu');
});

async function stores(): Promise<{ train: ExampleStore; test: ExampleStore; images: MemoryRangeReader }> {
  const images = new MemoryRangeReader(train.images);
  return {
    train: await ExampleStore.open(images, new MemoryRangeReader(train.labels), never),
    test: await ExampleStore.open(new MemoryRangeReader(testFiles.images), new MemoryRangeReader(testFiles.labels), never),
    images,
  };
}

/** Trains `ids` to the end in epoch `epoch`, then (if given) in a second membership; the hashes of every step. */
async function run(config: RunConfig, data: (id: string) => { train: Examples; test: Examples; ownData?: boolean }, views: string[][]): Promise<Map<string, TrainingSession>> {
  const network = new InMemoryNetwork({ latencyMs: 1 });
  const everyone = [...new Set(views.flat())];
  const sessions = new Map<string, TrainingSession>();
  const models: Model[] = [];
  for (const id of everyone) {
    const model = new Model('mlp', [SIDE, SIDE, 1], 10);
    models.push(model);
    const { train: tr, test: te, ownData } = data(id);
    sessions.set(id, new TrainingSession({ selfId: id, config, messenger: new Messenger(network.join(id)), model, train: tr, test: te, ...(ownData ? { ownData } : {}), connect: async () => undefined, stepTimeoutMs: 5_000, syncTimeoutMs: 5_000 }));
  }
  const done = [...sessions.values()].map((s) => s.run());
  const first = views[0]!;
  for (const id of first) sessions.get(id)!.setView({ epoch: 1, members: first });
  if (views[1]) {
    const half = Math.floor(config.steps / 2);
    while ([...first].some((id) => sessions.get(id)!.step < half)) await new Promise((r) => setTimeout(r, 2));
    for (const id of views[1]) sessions.get(id)!.setView({ epoch: 2, members: views[1] });
    for (const id of first.filter((i) => !views[1]!.includes(i))) sessions.get(id)!.stop();
  }
  await Promise.all(done);
  for (const m of models) m.dispose();
  return sessions;
}

test('three sessions over stores train to the same weights as over the whole data set, and hold only their shard', async () => {
  const config = parseRunConfig({ steps: 12, workers: 3, batchSize: 16, lr: 0.05, evalEvery: 4, evalSize: 50, seed: 5 });
  const ids = ['a', 'b', 'c'];
  const whole = { train: parseMnist(train.images, train.labels), test: parseMnist(testFiles.images, testFiles.labels) };
  const own = new Map(await Promise.all(ids.map(async (id) => [id, await stores()] as const)));
  const viaStores = await run(config, (id) => own.get(id)!, [ids]);
  const inMemory = await run(config, () => whole, [ids]);
  for (const id of ids) {
    const s = viaStores.get(id)!;
    assert.equal(s.state, 'done', s.error ?? '');
    assert.deepEqual(s.history.map((r) => r.weightsHash), inMemory.get(id)!.history.map((r) => r.weightsHash));
    assert.deepEqual(s.history.map((r) => r.testAccuracy), inMemory.get(id)!.history.map((r) => r.testAccuracy));
    const shard = assignShard(config, whole.train.labels, 10, ids.indexOf(id), 3);
    const { train: store, test: testStore, images } = own.get(id)!;
    assert.equal(store.held, shard.length);
    assert.equal(testStore.held, 50);
    assert.equal(images.traffic.bytes, 16 + shard.length * SIDE * SIDE, 'the header and its shard only');
  }
});

test('a member leaving moves the shards: each survivor fetches only the examples it did not hold', async () => {
  const config = parseRunConfig({ steps: 10, workers: 3, batchSize: 8, lr: 0.05, evalEvery: 100, evalSize: 20, seed: 3, shard: 'label-skew', classes: 4 });
  const own = new Map(await Promise.all(['a', 'b', 'c'].map(async (id) => [id, await stores()] as const)));
  const sessions = await run(config, (id) => own.get(id)!, [['a', 'b', 'c'], ['a', 'b']]);
  const labels = parseMnist(train.images, train.labels).labels;
  const a = sessions.get('a')!;
  const b = sessions.get('b')!;
  assert.equal(a.state, 'done', a.error ?? '');
  assert.equal(a.weightsHash, b.weightsHash);
  ['a', 'b'].forEach((id, rank) => {
    const before = assignShard(config, labels, 10, rank, 3);
    const after = assignShard(config, labels, 10, rank, 2);
    const added = Array.from(after).filter((i) => !before.includes(i)).length;
    const { train: store, images } = own.get(id)!;
    assert.equal(store.held, after.length);
    assert.equal(images.traffic.bytes, 16 + (before.length + added) * SIDE * SIDE, `${id}: its first shard, then the difference`);
  });
});

test("a member training on its own data: its shard is all of it, the room's replicas stay identical, evaluation is the task's", async () => {
  const config = parseRunConfig({ steps: 12, workers: 3, batchSize: 16, lr: 0.05, evalEvery: 4, evalSize: 50, seed: 5 });
  const local = parseMnist(idxFiles(37, SIDE, 9).images, idxFiles(37, SIDE, 9).labels);
  const own = new Map(await Promise.all(['a', 'b'].map(async (id) => [id, await stores()] as const)));
  const testStore = await stores();
  const mixed = await run(config, (id) => (id === 'c' ? { train: local, test: testStore.test, ownData: true } : own.get(id)!), [['a', 'b', 'c']]);
  const builtin = await run(config, () => ({ train: parseMnist(train.images, train.labels), test: parseMnist(testFiles.images, testFiles.labels) }), [['a', 'b', 'c']]);
  const hashes = ['a', 'b', 'c'].map((id) => mixed.get(id)!.history.map((r) => r.weightsHash));
  assert.equal(mixed.get('c')!.state, 'done', mixed.get('c')!.error ?? '');
  assert.deepEqual(hashes[1], hashes[0]);
  assert.deepEqual(hashes[2], hashes[0]);
  assert.deepEqual(mixed.get('c')!.history.map((r) => r.testAccuracy), mixed.get('a')!.history.map((r) => r.testAccuracy), "one test set: the task's");
  assert.notEqual(mixed.get('a')!.weightsHash, builtin.get('a')!.weightsHash, "c's own data trained, not its piece of the task's");
  // Its batches came from its 37 examples: the others hold their thirds of 400 as before.
  assert.equal(own.get('a')!.train.held, assignShard(config, parseMnist(train.images, train.labels).labels, 10, 0, 3).length);
  assert.equal(testStore.train.held, 0, "c's copy of the task's training set fetched no image");
  assert.equal(testStore.test.held, 50);
});
