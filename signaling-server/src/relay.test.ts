/** Signal relay: only between members of one room. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorPayload } from '@tabswarm/shared/protocol';
import { harness, raw, next, record, relay, joined, errorOf, LIMIT } from './testing.ts';

test('signals are relayed only within the same room', LIMIT, async (t) => {
  const h = await harness(t);
  const [tabA, tabB, tabC] = [await h.connect(), await h.connect(), await h.connect()];
  const a = await joined(tabA, 'x');
  const b = await joined(tabB, 'x');
  const c = await joined(tabC, 'y');
  const atC = record<unknown>(tabC, 'signal');

  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  const atB = next(tabB, 'signal');
  assert.deepEqual(await relay(tabA, b.peerId, offer), { ok: true, data: null });
  assert.deepEqual(await atB, { from: a.peerId, data: offer });

  assert.equal(errorOf(await relay(tabA, c.peerId, offer)).name, 'PeerNotFoundError');
  assert.equal(errorOf(await relay(tabA, 'f'.repeat(32), offer)).name, 'PeerNotFoundError');

  // Without an ack, the refusal comes back as server:error.
  const refused = next<ErrorPayload>(tabA, 'server:error');
  raw(tabA).emit('signal:relay', { to: c.peerId, data: offer });
  assert.equal((await refused).name, 'PeerNotFoundError');

  const outsider = await h.connect();
  assert.equal(errorOf(await relay(outsider, a.peerId, offer)).name, 'NotInRoomError');

  // C's socket is served in order, so a round trip of its own proves nothing was queued for it.
  await relay(tabC, c.peerId, {});
  assert.equal(atC.length, 1, 'C got only its own signal');
});
