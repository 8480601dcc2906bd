/** Observers and finished runs (room-watch.ts): who may signal whom, and what a finished room answers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ack, FinishedRun, JoinResult, MembersEvent, ObserversEvent, RunFinishedEvent } from '@tabswarm/shared/protocol';
import { errorOf, harness, joined, LIMIT, next, rawAck, record, relay, sleep, type Tab, WAIT_MS } from './testing.ts';

function observe(socket: Tab, room: string): Promise<Ack<JoinResult>> {
  return new Promise((done, fail) => {
    socket.timeout(WAIT_MS).emit('room:join', { room, role: 'observer' }, (err, result) => (err ? fail(err) : done(result)));
  });
}

function observed(result: Ack<JoinResult>): JoinResult {
  assert.ok(result.ok, `observer join failed: ${JSON.stringify(result)}`);
  return result.data;
}

const run: FinishedRun = { step: 3, hash: '0123456789abcdef', testAccuracy: 0.875 };

test('an observer is no member: no epoch, signals with members only, told of the run finishing', LIMIT, async (t) => {
  const h = await harness(t);
  const [tabA, tabB, tabO, tabP] = [await h.connect(), await h.connect(), await h.connect(), await h.connect()];
  const a = await joined(tabA, 'x', { steps: 3 });
  const seenB = next<MembersEvent>(tabA, 'room:members', (e) => e.members.length === 2);
  const b = await joined(tabB, 'x');
  await seenB;
  const membersAtA = record<MembersEvent>(tabA, 'room:members');
  const observersAtA = next<ObserversEvent>(tabA, 'room:observers');
  const o = observed(await observe(tabO, 'x'));
  assert.equal(o.role, 'observer');
  assert.equal(o.epoch, b.epoch, 'the room epoch as it was');
  assert.deepEqual(o.members, [a.peerId, b.peerId].sort());
  assert.equal(o.config.steps, 3);
  assert.equal(o.finished, null);
  assert.deepEqual((await observersAtA).observers, [o.peerId]);
  const p = observed(await observe(tabP, 'x'));

  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  assert.deepEqual(await relay(tabO, a.peerId, offer), { ok: true, data: null });
  assert.deepEqual(await relay(tabA, o.peerId, offer), { ok: true, data: null });
  assert.equal(errorOf(await relay(tabO, p.peerId, offer)).name, 'PeerNotFoundError', 'observers do not signal each other');
  assert.equal(errorOf(await rawAck(tabO, 'room:resync', { epoch: b.epoch })).name, 'NotInRoomError', 'an observer cannot ask for epochs');
  assert.equal(errorOf(await rawAck(tabO, 'room:finished', run)).name, 'NotInRoomError', 'nor report a finished run');

  // One of two members is no majority; both are.
  const finishedAtO = next<RunFinishedEvent>(tabO, 'room:finished');
  assert.deepEqual(await rawAck(tabA, 'room:finished', run), { ok: true, data: null });
  assert.deepEqual(await rawAck(tabB, 'room:finished', run), { ok: true, data: null });
  assert.deepEqual(await finishedAtO, { room: 'x', run });
  await sleep(50);
  assert.deepEqual(membersAtA, [], 'observers and reports changed no epoch');
  assert.deepEqual(h.signaling.rooms().find((r) => r.room === 'x')?.members, [a.peerId, b.peerId].sort());
});

test('a finished room makes a joiner an observer; after every member left it says nobody holds the model', LIMIT, async (t) => {
  const h = await harness(t);
  const [tabA, tabB, tabC] = [await h.connect(), await h.connect(), await h.connect()];
  const a = await joined(tabA, 'done', { steps: 3 });
  await joined(tabB, 'done');
  // A report past or before the last step, or a minority's hash, finishes nothing.
  await rawAck(tabA, 'room:finished', { ...run, step: 2 });
  await rawAck(tabA, 'room:finished', run);
  await rawAck(tabB, 'room:finished', { ...run, hash: 'ffffffffffffffff' });
  const early = await joined(tabC, 'done');
  assert.equal(early.role, 'member', 'no majority yet: still a run to join');
  tabC.disconnect();
  await sleep(100);
  await rawAck(tabB, 'room:finished', run);

  const tabD = await h.connect();
  const late = await joined(tabD, 'done', { steps: 99 });
  assert.equal(late.role, 'observer');
  assert.deepEqual(late.finished, run);
  assert.equal(late.config.steps, 3);
  assert.ok(late.members.includes(a.peerId));

  tabA.disconnect();
  tabB.disconnect();
  await sleep(100);
  const tabE = await h.connect();
  const after = await joined(tabE, 'done');
  assert.equal(after.role, 'observer');
  assert.deepEqual(after.finished, run);
  assert.deepEqual(after.members, [], 'nobody holds it');

  const tabF = await h.connect();
  assert.equal(errorOf(await observe(tabF, 'never-opened')).name, 'UnknownRoomError');
  // As many observers as members at most (here 2): a room cannot be made to serve snapshots without end.
  const h2 = await harness(t, { maxMembersPerRoom: 2 });
  const [m1, o1, o2, o3] = [await h2.connect(), await h2.connect(), await h2.connect(), await h2.connect()];
  await joined(m1, 'small');
  observed(await observe(o1, 'small'));
  observed(await observe(o2, 'small'));
  assert.deepEqual(errorOf(await observe(o3, 'small')), { name: 'RoomFullError', message: 'room small has 2 observers already' });
  assert.equal(errorOf(await rawAck(tabF, 'room:finished', { step: 1, hash: 'xyz', testAccuracy: 2 })).name, 'ValidationError');
});
