/** /metrics scraped: Prometheus text with rooms, members, epochs, resyncs, evictions, refusals by reason, relayed bytes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorOf, harness, httpGet, joined, LIMIT, rawAck, relay, tryJoin } from './testing.ts';
import { sample } from './hostile/kit.ts';

test('/metrics counts what the server did', LIMIT, async (t) => {
  const h = await harness(t, { resyncWindowMs: 0 });
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'metered');
  const b = await joined(tabB, 'metered');
  const signal = { type: 'offer', sdp: 'v=0 '.repeat(100) };
  assert.equal((await relay(tabA, b.peerId, signal)).ok, true);
  await rawAck(tabB, 'room:resync', { epoch: b.epoch, suspect: a.peerId });
  assert.equal(errorOf(await tryJoin(await h.connect(), 'bad', { compressor: 'zip' })).name, 'ConfigError');
  assert.equal(errorOf(await rawAck(tabA, 'room:join', { room: '' })).name, 'ValidationError');

  const page = await httpGet(h.url, '/metrics');
  assert.equal(page.status, 200);
  assert.match(page.type ?? '', /^text\/plain/);
  const text = page.body;
  assert.equal(sample(text, 'tabswarm_rooms'), 1);
  assert.equal(sample(text, 'tabswarm_members'), 2);
  assert.equal(sample(text, 'tabswarm_connections'), 3);
  // Two joins and one resync were announced.
  assert.equal(sample(text, 'tabswarm_epochs_total'), 3);
  assert.equal(sample(text, 'tabswarm_resyncs_total'), 1);
  assert.equal(sample(text, 'tabswarm_evictions_total'), 0);
  assert.equal(sample(text, 'tabswarm_relayed_bytes_total'), Buffer.byteLength(JSON.stringify(signal)));
  assert.equal(sample(text, 'tabswarm_rejected_total', '{reason="ConfigError"}'), 1);
  assert.equal(sample(text, 'tabswarm_rejected_total', '{reason="ValidationError"}'), 1);
  assert.ok((sample(text, 'tabswarm_heap_bytes') ?? 0) > 0);
  assert.match(text, /# HELP tabswarm_rejected_total /);
});
