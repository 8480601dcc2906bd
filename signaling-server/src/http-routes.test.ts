/** The HTTP side: the built client, 404s, no path traversal, /healthz. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { harness, joined, httpGet, LIMIT } from './testing.ts';

test('serves the built client, 404s the rest and refuses traversal', LIMIT, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tabswarm-static-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>tabswarm</title>');
  await writeFile(join(dir, 'assets', 'app.js'), 'export {};');
  await writeFile(join(dir, 'assets', 'tfjs.wasm'), new Uint8Array([0, 97, 115, 109]));
  await writeFile(join(dir, 'train-images-idx3-ubyte'), new Uint8Array([0, 0, 8, 3]));
  const h = await harness(t, { staticDir: dir });

  const index = await httpGet(h.url, '/');
  assert.equal(index.status, 200);
  assert.equal(index.type, 'text/html; charset=utf-8');
  assert.match(index.body, /<title>tabswarm/);
  assert.equal((await httpGet(h.url, '/index.html?v=1')).status, 200);
  assert.equal((await httpGet(h.url, '/assets/app.js')).type, 'text/javascript; charset=utf-8');
  assert.equal((await httpGet(h.url, '/assets/tfjs.wasm')).type, 'application/wasm');
  assert.equal((await httpGet(h.url, '/train-images-idx3-ubyte')).type, 'application/octet-stream');
  assert.equal((await httpGet(h.url, '/missing.js')).status, 404);
  assert.equal((await httpGet(h.url, '/assets')).status, 404, 'directories are not files');
  for (const path of ['/../package.json', '/assets/../../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/%zz']) {
    assert.equal((await httpGet(h.url, path)).status, 400, path);
  }
});

test('without a built client, / says how to build it', LIMIT, async (t) => {
  const h = await harness(t, { staticDir: join(tmpdir(), 'tabswarm-does-not-exist') });
  const page = await httpGet(h.url, '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /npm run build/);
  assert.equal((await httpGet(h.url, '/app.js')).status, 404);
});

test('healthz says the server is up and nothing about its rooms', LIMIT, async (t) => {
  const h = await harness(t);
  assert.deepEqual(JSON.parse((await httpGet(h.url, '/healthz')).body), { ok: true });
  await joined(await h.connect(), 'health');
  const health = await httpGet(h.url, '/healthz?verbose=1');
  assert.equal(health.type, 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(health.body), { ok: true }, 'no room count for strangers');
});
