/** Room membership over a real socket.io server: peer ids, epochs, the room's config, leaves, caps. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG, type MembersEvent } from '@tabswarm/shared/protocol';
import { harness, next, tryJoin, relay, joined, errorOf, LIMIT } from './testing.ts';

test('assigns distinct, unguessable peer ids', LIMIT, async (t) => {
  const h = await harness(t);
  const a = await joined(await h.connect(), 'ids');
  const b = await joined(await h.connect(), 'ids');
  assert.match(a.peerId, /^[0-9a-f]{32}$/);
  assert.match(b.peerId, /^[0-9a-f]{32}$/);
  assert.notEqual(a.peerId, b.peerId);
  assert.deepEqual(b.members, [a.peerId, b.peerId].sort());
});

test('epoch grows on every join and leave and is broadcast with sorted members', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'epochs');
  assert.equal(a.epoch, 1);
  assert.deepEqual(a.members, [a.peerId]);

  const seenByA = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 2);
  const ownByB = next<MembersEvent>(tabB, 'room:members');
  const b = await joined(tabB, 'epochs');
  assert.equal(b.epoch, 2);
  const expected = { room: 'epochs', epoch: 2, members: [a.peerId, b.peerId].sort() };
  assert.deepEqual(await seenByA, expected);
  assert.deepEqual(await ownByB, expected, 'the joiner gets the broadcast too, after its ack');

  const afterLeave = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 3);
  tabB.emit('room:leave');
  assert.deepEqual(await afterLeave, { room: 'epochs', epoch: 3, members: [a.peerId] });
  assert.deepEqual(
    h.signaling.rooms().map(({ room, epoch, members }) => ({ room, epoch, members })),
    [{ room: 'epochs', epoch: 3, members: [a.peerId] }],
  );
});

test('the first joiner fixes the config; later joiners get it and theirs is ignored', LIMIT, async (t) => {
  const h = await harness(t, { defaultConfig: { ...DEFAULT_CONFIG, seed: 7 } });
  const a = await joined(await h.connect(), 'cfg', { steps: 300, compressor: 'topk', ratio: '0.05' });
  assert.equal(a.config.steps, 300);
  assert.equal(a.config.compressor, 'topk');
  assert.equal(a.config.ratio, 0.05);
  assert.equal(a.config.seed, 7, 'unset keys come from the server default');
  const b = await joined(await h.connect(), 'cfg', { steps: 5, compressor: 'qsgd', nonsense: true });
  assert.deepEqual(b.config, a.config);
  assert.deepEqual(h.signaling.rooms()[0]?.config, a.config);
});

test('an invalid config is a ConfigError and creates no room', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const error = errorOf(await tryJoin(tab, 'bad-cfg', { compressor: 'zip' }));
  assert.equal(error.name, 'ConfigError');
  assert.match(error.message, /compressor/);
  assert.deepEqual(h.signaling.rooms(), []);
  await joined(tab, 'bad-cfg', { steps: 10 });
});

test('a disconnect counts as a leave and an empty room is deleted', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'gone', { steps: 11 });
  await joined(tabB, 'gone');
  const afterDisconnect = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 3);
  tabB.disconnect();
  assert.deepEqual(await afterDisconnect, { room: 'gone', epoch: 3, members: [a.peerId] });

  tabA.emit('room:leave');
  // Events of one socket are handled in order: once this is refused, the leave is done.
  assert.equal(errorOf(await relay(tabA, a.peerId, {})).name, 'NotInRoomError');
  assert.deepEqual(h.signaling.rooms(), []);

  const fresh = await joined(tabA, 'gone', { steps: 22 });
  assert.equal(fresh.epoch, 1);
  assert.equal(fresh.config.steps, 22, 'a new run may bring a new config');
  assert.notEqual(fresh.peerId, a.peerId);
});

test('joining again leaves the old room first', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  await joined(tabA, 'one');
  const b = await joined(tabB, 'one');
  const seenByB = next<MembersEvent>(tabB, 'room:members', (e) => e.epoch === 3);
  const moved = await joined(tabA, 'two');
  assert.deepEqual(await seenByB, { room: 'one', epoch: 3, members: [b.peerId] });
  assert.deepEqual(moved.members, [moved.peerId]);
  assert.deepEqual(h.signaling.rooms().map((r) => r.room).sort(), ['one', 'two']);
});

test('caps on members per room and on rooms', LIMIT, async (t) => {
  const h = await harness(t, { maxMembersPerRoom: 2, maxRooms: 1 });
  await joined(await h.connect(), 'small');
  await joined(await h.connect(), 'small');
  assert.equal(errorOf(await tryJoin(await h.connect(), 'small')).name, 'RoomFullError');
  assert.equal(errorOf(await tryJoin(await h.connect(), 'other')).name, 'TooManyRoomsError');
});
