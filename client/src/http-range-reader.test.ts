/**
 * A tab's way to MNIST, in Node against the real signaling server serving the real IDX files:
 * the shard arrives by multipart range requests, costs about its own bytes, and gives the very
 * examples of the whole-file path. A server that ignores ranges still works (the whole file).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { ExampleStore, iidShard, labelSkewShards, parseMnist, recordRanges, subset } from '@tabswarm/shared';
import { HttpRangeReader } from './http-range-reader.ts';
import { mnistDataDir } from './node/mnist-fs.ts';

const LIMIT = { timeout: 60_000 };
const IMAGE = 28 * 28;
const never = new AbortController().signal;

async function serveMnist(t: TestContext): Promise<string> {
  const listening = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: mnistDataDir() });
  t.after(() => listening.close());
  return listening.url;
}

async function open(base: string): Promise<{ store: ExampleStore; images: HttpRangeReader }> {
  const images = new HttpRangeReader(`${base}/train-images-idx3-ubyte`);
  return { store: await ExampleStore.open(images, new HttpRangeReader(`${base}/train-labels-idx1-ubyte`), never), images };
}

test('a quarter of MNIST by range: its bytes (and the multipart overhead), the examples of the whole file', LIMIT, async (t) => {
  const base = await serveMnist(t);
  const { store, images } = await open(base);
  const shard = iidShard(60_000, 2, 4, 17);
  await store.hold(shard, never);
  const payload = shard.length * IMAGE;
  const sorted = Int32Array.from(shard).sort();
  // The store reads 4,000 examples at a time; the reader asks 400 ranges a request.
  let expectedRequests = 1;
  for (let from = 0; from < sorted.length; from += 4000) expectedRequests += Math.ceil(recordRanges(sorted.subarray(from, from + 4000), 16, IMAGE).length / 400);
  assert.ok(images.traffic.bytes > payload && images.traffic.bytes < payload * 1.15, `${images.traffic.bytes} bytes for ${payload} of images`);
  assert.equal(images.traffic.requests, expectedRequests, 'the header, then 400 ranges a request');
  const dir = mnistDataDir();
  const whole = parseMnist(await readFile(join(dir, 'train-images-idx3-ubyte')), await readFile(join(dir, 'train-labels-idx1-ubyte')));
  const some = Array.from(shard.subarray(0, 2000)).reverse();
  assert.deepEqual(store.gather(some), subset(whole, some));
  // A label-skew shard after it: only the examples it adds come over the wire.
  const next = labelSkewShards(store.labels, 10, 4, 3, 17)[2]!;
  const held = new Set(shard);
  const added = next.filter((i) => !held.has(i)).length;
  const before = images.traffic.bytes;
  await store.hold(next, never);
  const moved = images.traffic.bytes - before;
  assert.ok(moved >= added * IMAGE && moved < added * IMAGE * 1.15, `${moved} bytes for ${added} new examples`);
  assert.deepEqual(store.gather(next.subarray(0, 500)), subset(whole, next.subarray(0, 500)));
});

for (const kind of ['ignores ranges', 'serves only the first range'] as const) {
  test(`a server that ${kind}: the reader falls back to the whole file and still cuts out the shard`, LIMIT, async (t) => {
    const dir = mnistDataDir();
    const files = new Map<string, Buffer>();
    for (const name of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) files.set(`/${name}`, await readFile(join(dir, name)));
    const server = createServer((req, res) => {
      const body = files.get(req.url ?? '');
      // As Vite's dev server does: the first range of a list, read with parseInt.
      const first = /^bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (kind === 'serves only the first range' && body && first) {
        const [from, to] = [Number(first[1]), Math.min(body.length - 1, Number(first[2]))];
        res.writeHead(206, { 'Content-Length': to - from + 1, 'Content-Range': `bytes ${from}-${to}/${body.length}` });
        res.end(body.subarray(from, to + 1));
        return;
      }
      res.writeHead(body ? 200 : 404, { 'Content-Length': body?.length ?? 0 });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const images = new HttpRangeReader(`${base}/t10k-images-idx3-ubyte`);
    const store = await ExampleStore.open(images, new HttpRangeReader(`${base}/t10k-labels-idx1-ubyte`), never);
    const wanted = Int32Array.from({ length: 900 }, (_, i) => i * 11);
    await store.hold(wanted, never);
    const file = files.get('/t10k-images-idx3-ubyte')!.length;
    const header = kind === 'ignores ranges' ? file : 16;
    const probe = kind === 'ignores ranges' ? 0 : 784; // the one range served before giving up on ranges
    assert.equal(images.traffic.bytes, header + probe + file, 'the header read, then the whole file');
    const whole = parseMnist(files.get('/t10k-images-idx3-ubyte')!, files.get('/t10k-labels-idx1-ubyte')!);
    assert.deepEqual(store.gather(wanted), subset(whole, wanted));
  });
}

test('the server: one range, several, too many, none satisfiable', LIMIT, async (t) => {
  const base = await serveMnist(t);
  const url = `${base}/t10k-labels-idx1-ubyte`;
  const file = await readFile(join(mnistDataDir(), 't10k-labels-idx1-ubyte'));
  const one = await fetch(url, { headers: { Range: 'bytes=8-17' } });
  assert.equal(one.status, 206);
  assert.equal(one.headers.get('content-range'), `bytes 8-17/${file.length}`);
  assert.deepEqual(new Uint8Array(await one.arrayBuffer()), new Uint8Array(file.subarray(8, 18)));
  const many = await fetch(url, { headers: { Range: 'bytes=0-3,100-101' } });
  assert.equal(many.status, 206);
  assert.match(many.headers.get('content-type') ?? '', /^multipart\/byteranges; boundary=/);
  await many.arrayBuffer();
  const tooMany = Array.from({ length: 1001 }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  const whole = await fetch(url, { headers: { Range: `bytes=${tooMany}` } });
  assert.equal(whole.status, 200);
  assert.equal((await whole.arrayBuffer()).byteLength, file.length);
  const none = await fetch(url, { headers: { Range: `bytes=${file.length}-` } });
  assert.equal(none.status, 416);
  await none.arrayBuffer();
});
