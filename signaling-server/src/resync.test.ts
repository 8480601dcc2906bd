/** Failed epochs: resync bumps the epoch once, and the majority-blamed member is evicted. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MembersEvent } from '@tabswarm/shared/protocol';
import { harness, next, record, joined, errorOf, rawAck, sleep, tryJoin, LIMIT, type Tab } from './testing.ts';

test('resync bumps the epoch once per failed epoch, with the same members', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'resync');
  const b = await joined(tabB, 'resync');
  assert.equal(b.epoch, 2);
  const seen = record<MembersEvent>(tabA, 'room:members');
  // Both members report the failure of epoch 2; a stale report about epoch 1 changes nothing.
  assert.deepEqual(await rawAck(tabA, 'room:resync', { epoch: 2 }), { ok: true, data: null });
  assert.deepEqual(await rawAck(tabB, 'room:resync', { epoch: 2 }), { ok: true, data: null });
  assert.deepEqual(await rawAck(tabB, 'room:resync', { epoch: 1 }), { ok: true, data: null });
  await sleep(100);
  assert.deepEqual(seen.filter((e) => e.epoch > 2), [{ room: 'resync', epoch: 3, members: [a.peerId, b.peerId].sort() }]);
  assert.equal(errorOf(await rawAck(tabA, 'room:resync', { epoch: -1 })).name, 'ValidationError');
  const outsider = await h.connect();
  assert.equal(errorOf(await rawAck(outsider, 'room:resync', { epoch: 3 })).name, 'NotInRoomError');
});

test('a member blamed by the majority in evictAfter failed epochs in a row is evicted and may rejoin', LIMIT, async (t) => {
  const h = await harness(t, { evictAfter: 2 });
  const tabs = [await h.connect(), await h.connect(), await h.connect()];
  const ids: string[] = [];
  for (const tab of tabs) ids.push((await joined(tab, 'evict')).peerId);
  const [a, b, c] = ids as [string, string, string];
  const [tabA, tabB, tabC] = tabs as [Tab, Tab, Tab];
  const evicted = next<{ room: string; reason: string; rejoinAfterMs: number }>(tabC, 'room:evicted');
  // Epoch 3 fails: the first report starts epoch 4 at once, the others only vote.
  const fourth = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 4);
  await rawAck(tabA, 'room:resync', { epoch: 3, suspect: c });
  assert.deepEqual((await fourth).members, [a, b, c].sort());
  await rawAck(tabB, 'room:resync', { epoch: 3, suspect: c });
  await rawAck(tabC, 'room:resync', { epoch: 3, suspect: a }); // the culprit blames someone else
  // Epoch 4 fails the same way: the majority blamed c twice in a row, so c goes.
  await rawAck(tabC, 'room:resync', { epoch: 4, suspect: b });
  await rawAck(tabA, 'room:resync', { epoch: 4, suspect: c });
  const without = next<MembersEvent>(tabA, 'room:members', (e) => !e.members.includes(c));
  await rawAck(tabB, 'room:resync', { epoch: 4, suspect: c });
  assert.deepEqual((await without).members, [a, b].sort());
  const eviction = await evicted;
  assert.equal(eviction.room, 'evict');
  assert.equal(eviction.rejoinAfterMs, 3000, 'the first eviction from an address keeps it out 3 s');
  // Joining again at once is refused (an evicted member comes back under a new id: its address waits).
  const early = errorOf(await tryJoin(tabC, 'evict'));
  assert.equal(early.name, 'RateLimitError');
  assert.match(early.message, /evicted from room evict: join again in 3 s/);
  await sleep(3000);
  const again = await joined(tabC, 'evict');
  assert.notEqual(again.peerId, c);
  assert.equal(again.members.length, 3);
});

test('no eviction without a majority, nor when the blame moves', LIMIT, async (t) => {
  // No resync window: every report acts at once (the window has its own tests).
  const h = await harness(t, { evictAfter: 2, resyncWindowMs: 0 });
  const tabs = [await h.connect(), await h.connect()];
  const ids: string[] = [];
  for (const tab of tabs) ids.push((await joined(tab, 'nomajority')).peerId);
  const [a, b] = ids as [string, string];
  // Two members blame each other: one vote each, never a majority.
  for (const epoch of [2, 3, 4]) {
    await rawAck(tabs[0]!, 'room:resync', { epoch, suspect: b });
    await rawAck(tabs[1]!, 'room:resync', { epoch, suspect: a });
  }
  await sleep(100);
  assert.deepEqual(h.signaling.rooms()[0]!.members, [a, b].sort());
  assert.equal(h.signaling.rooms()[0]!.epoch, 5);
});
