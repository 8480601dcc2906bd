/** What a misbehaving client may send: malformed payloads and floods get errors, and the server keeps working. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorPayload } from '@tabswarm/shared/protocol';
import { harness, raw, next, record, joined, errorOf, rawAck, sleep, LIMIT, WAIT_MS } from './testing.ts';

test('malformed payloads get errors and the server keeps working', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const peer = await joined(await h.connect(), 'ok');
  const badJoins: unknown[] = [
    null,
    42,
    'room',
    [],
    {},
    { room: '' },
    { room: 'no spaces' },
    { room: 'x'.repeat(65) },
    { room: 'x'.repeat(50_000) },
    { room: 'ok', name: 5 },
    { room: 'ok', name: 'n'.repeat(65) },
    { room: 'ok', config: [] },
    { room: 'ok', config: 'steps=5' },
  ];
  for (const payload of badJoins) {
    assert.equal(errorOf(await rawAck(tab, 'room:join', payload)).name, 'ValidationError', JSON.stringify(payload).slice(0, 40));
  }
  // The callback alone, with no payload.
  assert.equal(errorOf(await rawAck(tab, 'room:join')).name, 'ValidationError');

  await joined(tab, 'ok');
  const badRelays: unknown[] = [
    null,
    7,
    { data: {} },
    { to: peer.peerId },
    { to: 42, data: {} },
    { to: 'p'.repeat(1000), data: {} },
    { to: peer.peerId, data: 'candidate' },
    { to: peer.peerId, data: null },
    { to: peer.peerId, data: [1, 2] },
    { to: peer.peerId, data: { sdp: 's'.repeat(64 * 1024) } },
  ];
  for (const payload of badRelays) {
    assert.equal(errorOf(await rawAck(tab, 'signal:relay', payload)).name, 'ValidationError', JSON.stringify(payload).slice(0, 40));
  }
  // Just under the cap passes.
  const under = { sdp: 's'.repeat(64 * 1024 - 20) };
  assert.deepEqual(await rawAck(tab, 'signal:relay', { to: peer.peerId, data: under }), { ok: true, data: null });

  const noAck = next<ErrorPayload>(tab, 'server:error');
  raw(tab).emit('room:join', 'not an object');
  assert.equal((await noAck).name, 'ValidationError');

  const report = next<ErrorPayload>(tab, 'server:error');
  raw(tab).emit('room:report', { kind: 'gossip', text: 'hi' });
  assert.equal((await report).name, 'ValidationError');
  raw(tab).emit('room:report', { kind: 'status', text: 'step 1' });

  // Past maxHttpBufferSize (sized to the largest real signal) the connection is dropped, not the server.
  const huge = await h.connect();
  const dropped = new Promise<void>((done) => {
    huge.once('disconnect', () => {
      done();
    });
  });
  raw(huge).emit('room:join', { room: 'r'.repeat(200_000) });
  await Promise.race([dropped, sleep(WAIT_MS).then(() => Promise.reject(new Error('oversize message not dropped')))]);

  const again = await joined(await h.connect(), 'ok');
  assert.equal(again.members.length, 3);
});

test('a flood of 2000 events is rate limited without crashing', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const notices = record<ErrorPayload>(tab, 'server:error');
  const first = next<ErrorPayload>(tab, 'server:error', (e) => e.name === 'RateLimitError');
  for (let i = 0; i < 2000; i++) tab.emit('room:leave');
  assert.match((await first).message, /dropped/);
  await sleep(300);
  assert.equal(notices.filter((e) => e.name === 'RateLimitError').length, 1, 'at most one notice per second');
  // The bucket refills: the same socket is served again.
  await joined(tab, 'after-flood');
  await joined(await h.connect(), 'after-flood');
});
