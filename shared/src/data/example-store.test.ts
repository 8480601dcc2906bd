import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError } from '../errors.ts';
import { sampleBatch } from '../train/local-gradient.ts';
import { iidShard } from '../train/shard.ts';
import { ExampleStore, MemoryRangeReader } from './example-store.ts';
import { idxFiles } from '../testing/idx-fixture.ts';
import { parseMnist, subset } from './mnist.ts';

const SIDE = 6;
const F = SIDE * SIDE;
const never = new AbortController().signal;

async function store(count: number): Promise<{ store: ExampleStore; images: MemoryRangeReader; whole: ReturnType<typeof parseMnist> }> {
  const files = idxFiles(count, SIDE, 7);
  const images = new MemoryRangeReader(files.images);
  const s = await ExampleStore.open(images, new MemoryRangeReader(files.labels), never);
  return { store: s, images, whole: parseMnist(files.images, files.labels) };
}

test('opening reads the header and every label, and no image', async () => {
  const { store: s, images, whole } = await store(300);
  assert.equal(s.count, 300);
  assert.deepEqual(s.shape, [SIDE, SIDE, 1]);
  assert.deepEqual(s.labels, whole.labels);
  assert.equal(s.held, 0);
  assert.deepEqual(images.traffic, { bytes: 16, requests: 1 });
  assert.deepEqual(s.traffic, { bytes: 16 + 8 + 300, requests: 2 });
});

test('a held shard gives the very batches of the whole-file path, and costs only its bytes', async () => {
  const { store: s, images, whole } = await store(500);
  const shard = iidShard(500, 1, 4, 42);
  await s.hold(shard, never);
  assert.equal(s.held, shard.length);
  assert.equal(images.traffic.bytes, 16 + shard.length * F, 'the header and the shard, nothing else');
  for (let step = 0; step < 5; step++) {
    const a = sampleBatch(s, shard, 42, 32, step, 1);
    const b = sampleBatch(whole, shard, 42, 32, step, 1);
    assert.deepEqual(a.labels, b.labels);
    assert.deepEqual(new Uint32Array(a.images.buffer), new Uint32Array(b.images.buffer), 'identical bits');
  }
  assert.deepEqual(s.gather([shard[3]!, shard[0]!]), subset(whole, [shard[3]!, shard[0]!]));
  const outside = iidShard(500, 0, 4, 42)[0]!;
  assert.throws(() => s.gather([outside]), DataError);
});

test('a new shard fetches only the difference and drops the rest', async () => {
  const { store: s, images, whole } = await store(600);
  const before = iidShard(600, 1, 4, 9);
  await s.hold(before, never);
  const fetchedBefore = images.traffic.bytes;
  const after = iidShard(600, 1, 3, 9);
  const kept = new Set(before);
  const added = Array.from(after).filter((i) => !kept.has(i)).length;
  await s.hold(after, never);
  assert.ok(added > 0 && added < after.length);
  assert.equal(images.traffic.bytes - fetchedBefore, added * F);
  assert.equal(s.held, after.length);
  assert.deepEqual(s.gather(after), subset(whole, after));
  const dropped = Array.from(before).find((i) => !after.includes(i))!;
  assert.throws(() => s.gather([dropped]), DataError);
});

test('an aborted hold leaves the store as it was', async () => {
  const { store: s, whole } = await store(200);
  await s.hold([1, 2, 3], never);
  const aborted = new AbortController();
  aborted.abort(new DataError('stop'));
  await assert.rejects(s.hold([4, 5], aborted.signal), /stop/);
  assert.equal(s.held, 3);
  assert.deepEqual(s.gather([3, 1]), subset(whole, [3, 1]));
  await assert.rejects(s.hold([200], never), RangeError);
});
