/**
 * `room:rejoin` over a real socket.io server: members of a room a server never saw (it restarted)
 * re-register it and get it back with their peer ids; a member's new connection takes its id
 * over; strangers do not. And a server shutting down tells nobody that the others left.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JoinResult, MembersEvent, RejoinRequest, RejoinResult } from '@tabswarm/shared/protocol';
import { errorOf, harness, joined, next, record, relay, sleep, tryJoin, tryRejoin, LIMIT, type Tab } from './testing.ts';

/** What a member trained in `view` reports when it rejoins `room`. */
function claimOf(room: string, member: JoinResult, view: string[], epoch: number, step: number): RejoinRequest {
  return { room, peerId: member.peerId, token: member.token, config: { ...member.config }, epoch, members: [...view].sort(), step, hash: `h${step}` };
}

async function rejoined(socket: Tab, request: RejoinRequest, ms?: number): Promise<RejoinResult> {
  const result = await tryRejoin(socket, request, ms);
  assert.ok(result.ok, `rejoin failed: ${JSON.stringify(result)}`);
  return result.data;
}

/** Three members of `room` on a first server, as a restarted one will hear of them. */
async function threeMembers(t: Parameters<typeof harness>[0], room: string): Promise<{ members: JoinResult[]; view: string[]; epoch: number }> {
  const old = await harness(t);
  const members: JoinResult[] = [];
  for (let i = 0; i < 3; i++) members.push(await joined(await old.connect(), room, { steps: 150, workers: 3 }));
  return { members, view: members[2]!.members, epoch: members[2]!.epoch };
}

test('a restarted server rebuilds the room from its members, their ids and its epoch kept; joins wait for it', LIMIT, async (t) => {
  const { members, view, epoch } = await threeMembers(t, 'restart');
  const fresh = await harness(t, { rebuildWindowMs: 5000 });
  const sockets = [await fresh.connect(), await fresh.connect(), await fresh.connect()];
  const announced = record<MembersEvent>(sockets[0]!, 'room:members');
  const newcomerAnnounced = next<MembersEvent>(sockets[0]!, 'room:members', (e) => e.epoch === epoch + 1, 8000);
  const first = tryRejoin(sockets[0]!, claimOf('restart', members[0]!, view, epoch, 21), 8000);
  await sleep(100);
  assert.deepEqual(fresh.signaling.rooms(), [], 'not live while registrations come in');
  // A new tab arriving meanwhile joins once the old members are back.
  const newcomer = tryJoin(await fresh.connect(), 'restart', { steps: 5 });
  const second = tryRejoin(sockets[1]!, claimOf('restart', members[1]!, view, epoch, 22), 8000);
  const started = Date.now();
  const third = await rejoined(sockets[2]!, claimOf('restart', members[2]!, view, epoch, 21));
  assert.ok(Date.now() - started < 1000, 'the last member listed completes the rebuild at once');
  const results = [(await first), (await second)].map((r) => (assert.ok(r.ok), r.data));
  for (const [i, r] of [...results, third].entries()) {
    assert.equal(r.peerId, members[i]!.peerId, 'same peer id');
    assert.equal(r.epoch, epoch, 'nothing changed: the epoch is kept');
    assert.deepEqual(r.members, view);
    assert.equal(r.config.steps, 150);
    assert.equal(r.adopt, false);
  }
  const joinedLate = await newcomer;
  assert.ok(joinedLate.ok);
  assert.equal(joinedLate.data.epoch, epoch + 1);
  assert.equal(joinedLate.data.config.steps, 150, 'the room\'s config, not the newcomer\'s');
  assert.equal(joinedLate.data.members.length, 4);
  await newcomerAnnounced;
  assert.deepEqual(announced.map((e) => e.epoch), [epoch, epoch + 1]);
  // Members again: signals flow between the rebuilt ids.
  assert.equal((await relay(sockets[0]!, members[1]!.peerId, { sdp: 'x' })).ok, true);
});

test('a member missing when the window ends is left out; it comes back later as a late joiner', LIMIT, async (t) => {
  const { members, view, epoch } = await threeMembers(t, 'missing');
  const fresh = await harness(t, { rebuildWindowMs: 300 });
  const [a, b] = [await fresh.connect(), await fresh.connect()];
  const started = Date.now();
  const [ra, rb] = await Promise.all([
    rejoined(a, claimOf('missing', members[0]!, view, epoch, 30)),
    rejoined(b, claimOf('missing', members[1]!, view, epoch, 30)),
  ]);
  assert.ok(Date.now() - started >= 250, 'waited for the window');
  assert.equal(ra.epoch, epoch + 1);
  assert.deepEqual(rb.members, [members[0]!.peerId, members[1]!.peerId].sort());
  const late = await rejoined(await fresh.connect(), claimOf('missing', members[2]!, view, epoch, 29));
  assert.equal(late.epoch, epoch + 2);
  assert.equal(late.adopt, false, 'the same view: at most behind, the state sync catches it up');
  assert.deepEqual(late.members, view);
});

test('a registrant that goes away before the decision is not in the rebuilt room', LIMIT, async (t) => {
  const { members, view, epoch } = await threeMembers(t, 'gone');
  const fresh = await harness(t, { rebuildWindowMs: 300 });
  const [a, b] = [await fresh.connect(), await fresh.connect()];
  const pending = tryRejoin(a, claimOf('gone', members[0]!, view, epoch, 3), 2000).catch(() => undefined);
  await sleep(50);
  a.disconnect();
  await pending;
  const rb = await rejoined(b, claimOf('gone', members[1]!, view, epoch, 3));
  assert.deepEqual(rb.members, [members[1]!.peerId]);
});

test('a new connection of a member takes its id over with its token; a wrong token or a held id is refused', LIMIT, async (t) => {
  const h = await harness(t);
  const oldSocket = await h.connect();
  const a = await joined(oldSocket, 'takeover');
  const b = await joined(await h.connect(), 'takeover');
  const view = [a.peerId, b.peerId].sort();
  const stranger = await h.connect();
  const refused = errorOf(await tryRejoin(stranger, { ...claimOf('takeover', a, view, 2, 0), token: 'f'.repeat(32) }));
  assert.equal(refused.name, 'PeerIdTakenError');
  const elsewhere = errorOf(await tryRejoin(stranger, { ...claimOf('other-room', a, view, 2, 0) }));
  assert.equal(elsewhere.name, 'PeerIdTakenError', 'held in another room');
  const hungUp = new Promise<void>((done) => oldSocket.once('disconnect', () => done()));
  const fresh = await h.connect();
  const taken = await rejoined(fresh, claimOf('takeover', a, view, 2, 0));
  assert.equal(taken.epoch, 2, 'no membership change');
  await hungUp;
  await sleep(50);
  assert.deepEqual(h.signaling.rooms().map((r) => [r.epoch, r.members]), [[2, view]], 'the old socket left nothing');
  assert.equal((await relay(fresh, b.peerId, { sdp: 'x' })).ok, true, 'the new socket speaks for the id');
});

test('bad rejoins are ValidationErrors', LIMIT, async (t) => {
  const h = await harness(t);
  const socket = await h.connect();
  const good = { room: 'r', peerId: 'a', token: 't', config: {}, epoch: 1, members: ['a'], step: 0, hash: '' };
  for (const bad of [{ ...good, members: ['b'] }, { ...good, members: ['a', 'a'] }, { ...good, token: '' }, { ...good, step: -1 }, { ...good, room: '../x' }, { ...good, config: 3 }]) {
    assert.equal(errorOf(await tryRejoin(socket, bad as RejoinRequest)).name, 'ValidationError', JSON.stringify(bad));
  }
  assert.equal(errorOf(await tryRejoin(socket, { ...good, config: { compressor: 'zip' } })).name, 'ConfigError');
});

test('a server shutting down tells no member that the others left', LIMIT, async (t) => {
  const h = await harness(t);
  const sockets = [await h.connect(), await h.connect(), await h.connect()];
  const seen = sockets.map((s) => record<MembersEvent>(s, 'room:members'));
  for (const s of sockets) await joined(s, 'shutdown');
  await next<MembersEvent>(sockets[0]!, 'room:members', (e) => e.epoch === 3);
  await h.signaling.close();
  await sleep(100);
  assert.deepEqual(seen.flat().filter((e) => e.epoch > 3), [], 'nobody was left alone by the shutdown');
});
