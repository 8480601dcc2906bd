import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '@tabswarm/shared/protocol';
import { RoomRegistry, type Registration, type RoomRegistryOptions } from './room-registry.ts';

/**
 * A registry whose peer ids are p1, p2, ... in join order, so tests can name them. Resyncs are not
 * merged in a window here (resync-pacing.test.ts tests that), so every report acts at once.
 */
function registry(options: RoomRegistryOptions = {}): RoomRegistry {
  let n = 0;
  // A lone report acts at once here (soloResyncMs 0): the wait for a second has its own tests.
  return new RoomRegistry({ newPeerId: () => `p${++n}`, resyncWindowMs: 0, soloResyncMs: 0, ...options });
}

/** Joins `count` members to `room`, returning their ids. */
function fill(rooms: RoomRegistry, room: string, count: number): string[] {
  return Array.from({ length: count }, () => rooms.join(room).peerId);
}

test('every join and every leave moves the epoch by exactly 1; members are sorted', () => {
  const rooms = registry({ newPeerId: (() => { const ids = ['b', 'c', 'a']; return () => ids.shift()!; })() });
  assert.deepEqual(rooms.join('r').snapshot, { room: 'r', epoch: 1, members: ['b'], config: DEFAULT_CONFIG });
  assert.equal(rooms.join('r').snapshot.epoch, 2);
  const third = rooms.join('r');
  assert.equal(third.peerId, 'a');
  assert.deepEqual(third.snapshot.members, ['a', 'b', 'c']);
  assert.equal(third.snapshot.epoch, 3);
  assert.deepEqual(rooms.leave('r', 'c'), { room: 'r', epoch: 4, members: ['a', 'b'], config: DEFAULT_CONFIG });
  assert.equal(rooms.leave('r', 'c'), undefined, 'leaving twice changes nothing');
  assert.equal(rooms.leave('other', 'a'), undefined);
  assert.equal(rooms.snapshot('r')?.epoch, 4);
});

test('an empty room is forgotten; the next joiner starts at epoch 1 with its own config', () => {
  const rooms = registry();
  const { peerId } = rooms.join('r', { steps: 11 });
  const last = rooms.leave('r', peerId);
  assert.deepEqual(last?.members, []);
  assert.equal(last?.epoch, 2);
  assert.equal(rooms.size, 0);
  assert.equal(rooms.snapshot('r'), undefined);
  assert.deepEqual(rooms.all(), []);
  const fresh = rooms.join('r', { steps: 22 }).snapshot;
  assert.equal(fresh.epoch, 1);
  assert.equal(fresh.config.steps, 22);
});

test('the first joiner fixes the config over the defaults; later configs are ignored', () => {
  const rooms = registry({ defaultConfig: { ...DEFAULT_CONFIG, seed: 7 } });
  const first = rooms.join('r', { steps: 300, compressor: 'topk', ratio: '0.05' }).snapshot.config;
  assert.equal(first.steps, 300);
  assert.equal(first.compressor, 'topk');
  assert.equal(first.ratio, 0.05);
  assert.equal(first.seed, 7);
  assert.deepEqual(rooms.join('r', { steps: 5, compressor: 'qsgd' }).snapshot.config, first);
  // Snapshots are copies: changing one does not change the room.
  first.steps = 1;
  assert.equal(rooms.snapshot('r')?.config.steps, 300);
});

test('a bad config is a ConfigError and opens no room', () => {
  const rooms = registry();
  assert.throws(() => rooms.join('r', { compressor: 'zip' }), { name: 'ConfigError', message: /compressor/ });
  assert.equal(rooms.size, 0);
});

test('caps: RoomFullError and TooManyRoomsError, and a freed place can be taken again', () => {
  const rooms = registry({ maxMembersPerRoom: 2, maxRooms: 1 });
  const [a] = fill(rooms, 'small', 2);
  assert.throws(() => rooms.join('small'), { name: 'RoomFullError' });
  assert.throws(() => rooms.join('other'), { name: 'TooManyRoomsError' });
  assert.equal(rooms.snapshot('small')?.epoch, 2, 'a refused join changes nothing');
  rooms.leave('small', a!);
  assert.equal(rooms.join('small').snapshot.members.length, 2);
});

test('caps must be positive integers', () => {
  assert.throws(() => new RoomRegistry({ maxRooms: 0 }), { name: 'ConfigError', message: /maxRooms/ });
  assert.throws(() => new RoomRegistry({ maxMembersPerRoom: 1.5 }), { name: 'ConfigError', message: /maxMembersPerRoom/ });
  assert.throws(() => new RoomRegistry({ evictAfter: -1 }), { name: 'ConfigError', message: /evictAfter/ });
});

test('the first report of the current epoch starts the next one; repeated reports only vote', () => {
  const rooms = registry();
  const [a, b, c] = fill(rooms, 'r', 3) as [string, string, string];
  assert.deepEqual(rooms.reportFailure('r', a, 3), { newEpoch: true, evict: undefined });
  assert.deepEqual(rooms.snapshot('r')?.members, [a, b, c]);
  assert.equal(rooms.snapshot('r')?.epoch, 4);
  assert.deepEqual(rooms.reportFailure('r', b, 3), { newEpoch: false, evict: undefined });
  assert.deepEqual(rooms.reportFailure('r', a, 3), { newEpoch: false, evict: undefined });
  assert.equal(rooms.snapshot('r')?.epoch, 4);
});

test('a report about an epoch that is neither current nor tracked changes nothing', () => {
  const rooms = registry();
  const [a] = fill(rooms, 'r', 2) as [string, string];
  assert.deepEqual(rooms.reportFailure('r', a, 1), { newEpoch: false, evict: undefined });
  assert.deepEqual(rooms.reportFailure('r', a, 9), { newEpoch: false, evict: undefined });
  assert.equal(rooms.snapshot('r')?.epoch, 2);
});

test('a report from a non-member is a NotInRoomError', () => {
  const rooms = registry();
  fill(rooms, 'r', 1);
  assert.throws(() => rooms.reportFailure('r', 'stranger', 1), { name: 'NotInRoomError' });
  assert.throws(() => rooms.reportFailure('nowhere', 'p1', 1), { name: 'NotInRoomError' });
});

test('a member blamed by the majority in evictAfter failed epochs in a row is to be evicted', () => {
  const rooms = registry({ evictAfter: 2 });
  const [a, b, c] = fill(rooms, 'r', 3) as [string, string, string];
  // Epoch 3 fails: a and b blame c, c blames a.
  assert.equal(rooms.reportFailure('r', a, 3, c).newEpoch, true);
  assert.equal(rooms.reportFailure('r', b, 3, c).evict, undefined, 'one failed epoch is not enough');
  assert.equal(rooms.reportFailure('r', c, 3, a).evict, undefined);
  // Epoch 4 fails the same way; the decision comes with the vote that makes the majority.
  assert.equal(rooms.reportFailure('r', c, 4, b).evict, undefined);
  assert.equal(rooms.reportFailure('r', a, 4, c).evict, undefined, '1 of 2 reporters is no majority');
  assert.deepEqual(rooms.reportFailure('r', b, 4, c), {
    newEpoch: false,
    evict: { peerId: c, reason: 'blamed by most of the room for 2 failed steps in a row', rejoinAfterMs: 3000 },
  });
  // The registry decides; removing the member is the caller's job (and its ordinary leave).
  assert.equal(rooms.isMember('r', c), true);
  assert.equal(rooms.leave('r', c)?.epoch, 6);
  // The record starts over: one more failed epoch blaming b evicts nobody.
  assert.equal(rooms.reportFailure('r', a, 6, b).evict, undefined);
});

test('no eviction when the blame moves, or names a non-member or the reporter itself', () => {
  const rooms = registry({ evictAfter: 2 });
  const [a, b, c] = fill(rooms, 'r', 3) as [string, string, string];
  rooms.reportFailure('r', a, 3, c);
  rooms.reportFailure('r', b, 3, c);
  rooms.reportFailure('r', a, 4, b);
  assert.equal(rooms.reportFailure('r', c, 4, b).evict, undefined, 'b is blamed now, but was not in epoch 3');
  assert.equal(rooms.reportFailure('r', a, 5, 'stranger').evict, undefined);
  assert.equal(rooms.reportFailure('r', a, 5, a).evict, undefined);
  assert.deepEqual(rooms.snapshot('r')?.members, [a, b, c]);
});

test('with two members there is no majority: nobody is evicted', () => {
  const rooms = registry({ evictAfter: 2 });
  const [a, b] = fill(rooms, 'r', 2) as [string, string];
  for (const epoch of [2, 3, 4, 5]) {
    assert.equal(rooms.reportFailure('r', a, epoch, b).evict, undefined);
    assert.equal(rooms.reportFailure('r', b, epoch, a).evict, undefined);
  }
  // Nor when only one of the two reports, however often.
  for (const epoch of [6, 7, 8]) assert.equal(rooms.reportFailure('r', a, epoch, b).evict, undefined);
  assert.deepEqual(rooms.snapshot('r')?.members, [a, b]);
  assert.equal(rooms.snapshot('r')?.epoch, 9);
});

/** A claim by `peerId` (token `t-<id>` unless given) training in `members`. */
const registration = claim;
function claim(peerId: string, members: string[], epoch: number, step: number, token = `t-${peerId}`): Registration {
  return { peerId, token, config: { steps: 150, workers: members.length }, epoch, members, step, hash: `h${step}` };
}

test('join hands each member a token; a member who left rejoins a live room with it, as a late joiner', () => {
  const rooms = registry({ newToken: (() => { let n = 0; return () => `tok${++n}`; })() });
  const a = rooms.join('r');
  const b = rooms.join('r');
  assert.equal(a.token, 'tok1');
  assert.equal(b.token, 'tok2');
  rooms.leave('r', a.peerId); // its socket dropped; the room went on at epoch 3
  assert.throws(() => rooms.rejoin('r', claim(a.peerId, [a.peerId, b.peerId], 2, 9, 'forged')), { name: 'PeerIdTakenError' });
  const back = rooms.rejoin('r', claim(a.peerId, [a.peerId, b.peerId], 2, 9, 'tok1'));
  assert.deepEqual(back, { kind: 'admitted', snapshot: { room: 'r', epoch: 4, members: ['p1', 'p2'], config: DEFAULT_CONFIG }, changed: true, adopt: false });
  // Already a member, the right token: a new connection of the same member; nothing changes.
  const again = rooms.rejoin('r', claim(a.peerId, [a.peerId, b.peerId], 4, 9, 'tok1'));
  assert.equal(again.kind === 'admitted' && again.changed, false);
  assert.throws(() => rooms.rejoin('r', claim(b.peerId, [a.peerId, b.peerId], 4, 9, 'tok1')), { name: 'PeerIdTakenError' }, 'another member\'s id');
  assert.equal(rooms.snapshot('r')?.epoch, 4);
});

test('a rejoin reporting a higher epoch than the room\'s gets one above it', () => {
  const rooms = registry();
  rooms.join('r');
  const outcome = rooms.rejoin('r', claim('x', ['p1', 'x'], 12, 3));
  assert.equal(outcome.kind === 'admitted' && outcome.snapshot.epoch, 13);
});

test('an unknown room is rebuilt from registrations: joins wait, the decision makes it live with the registrants\' tokens', () => {
  const rooms = registry();
  const view = ['a', 'b', 'c'];
  assert.deepEqual(rooms.rejoin('r', claim('a', view, 7, 20)), { kind: 'pending', opened: true, complete: false });
  assert.ok(rooms.isRebuilding('r'));
  assert.deepEqual(rooms.all(), [], 'not live yet');
  assert.equal(rooms.size, 1, 'but counted against maxRooms');
  assert.throws(() => rooms.join('r'), { name: 'InternalError' });
  assert.throws(() => rooms.rejoin('r', claim('a', view, 7, 20, 'forged')), { name: 'PeerIdTakenError' });
  assert.throws(() => rooms.rejoin('r', { ...claim('b', view, 7, 20), config: { compressor: 'zip' } }), { name: 'ConfigError' });
  assert.deepEqual(rooms.rejoin('r', claim('b', view, 7, 21)), { kind: 'pending', opened: false, complete: false });
  assert.deepEqual(rooms.rejoin('r', claim('c', view, 7, 20)), { kind: 'pending', opened: false, complete: true });
  const rebuilt = rooms.finishRebuild('r');
  assert.deepEqual(rebuilt?.snapshot, { room: 'r', epoch: 7, members: view, config: { ...DEFAULT_CONFIG, steps: 150, workers: 3 } });
  assert.deepEqual(rebuilt?.adopters, []);
  assert.equal(rooms.isRebuilding('r'), false);
  assert.equal(rooms.finishRebuild('r'), undefined, 'once');
  // Live now: the registrants' tokens are known, a fresh join is let in.
  assert.throws(() => rooms.rejoin('r', claim('a', view, 7, 20, 'forged')), { name: 'PeerIdTakenError' });
  assert.equal(rooms.join('r').snapshot.epoch, 8);
});

test('a late claimant to a rebuilt room adopts its state if it comes from another view; one of its view does not', () => {
  const rooms = registry();
  rooms.rejoin('r', claim('b', ['b', 'c', 'd'], 5, 40));
  rooms.rejoin('r', claim('c', ['b', 'c', 'd'], 5, 40));
  const rebuilt = rooms.finishRebuild('r')!;
  assert.deepEqual(rebuilt.snapshot.members, ['b', 'c']);
  assert.equal(rebuilt.snapshot.epoch, 6);
  const lateSameView = rooms.rejoin('r', claim('d', ['b', 'c', 'd'], 5, 39));
  assert.equal(lateSameView.kind === 'admitted' && lateSameView.adopt, false, 'behind the room at most: the state sync catches it up');
  const fork = rooms.rejoin('r', claim('a', ['a'], 9, 150));
  assert.ok(fork.kind === 'admitted');
  assert.equal(fork.adopt, true, 'trained alone: its higher step must not win');
  assert.equal(fork.snapshot.epoch, 10, 'above its epoch too');
  assert.deepEqual(fork.snapshot.members, ['a', 'b', 'c', 'd']);
});

test('a registrant withdrawn before the decision is not a member; the last one withdrawn drops the rebuild', () => {
  const rooms = registry();
  rooms.rejoin('r', claim('a', ['a', 'b'], 2, 5));
  rooms.rejoin('r', claim('b', ['a', 'b'], 2, 5));
  assert.equal(rooms.withdraw('r', 'b'), false);
  assert.equal(rooms.withdraw('r', 'zz'), false);
  assert.deepEqual(rooms.finishRebuild('r')?.snapshot.members, ['a']);
  rooms.rejoin('s', claim('x', ['x', 'y'], 2, 5));
  assert.equal(rooms.withdraw('s', 'x'), true);
  assert.equal(rooms.size, 1);
  assert.equal(rooms.isRebuilding('s'), false);
});

test('rebuilds respect the caps', () => {
  const rooms = registry({ maxRooms: 1, maxMembersPerRoom: 2 });
  // `workers` may not exceed the room cap.
  const claim = (peerId: string, members: string[], epoch: number, step: number): Registration => ({ ...registration(peerId, members, epoch, step), config: { workers: 2 } });
  assert.throws(() => rooms.rejoin('r', registration('a', ['a', 'b', 'c'], 1, 0)), { name: 'ConfigError' });
  rooms.rejoin('r', claim('a', ['a', 'b', 'c'], 1, 0));
  assert.throws(() => rooms.rejoin('s', claim('x', ['x'], 1, 0)), { name: 'TooManyRoomsError' });
  rooms.rejoin('r', claim('b', ['a', 'b', 'c'], 1, 0));
  assert.throws(() => rooms.rejoin('r', claim('c', ['a', 'b', 'c'], 1, 0)), { name: 'RoomFullError' });
  rooms.finishRebuild('r');
  assert.throws(() => rooms.rejoin('r', claim('c', ['a', 'b', 'c'], 1, 0)), { name: 'RoomFullError' });
});

/**
 * The room of the under-attack e2e on the default pacing: three honest members and s, a member
 * that never connects and blames an honest one at the start of every epoch. Each honest member's
 * sync names s when it gives up on s's channel; the first to do so (with s's own report) starts
 * the next epoch, which cuts the other two short: they vote for the epoch cut (`cutShortVote`),
 * after s has already opened the next.
 */
function silentMemberRoom(cutShortVote: boolean): { rooms: RoomRegistry; clock: { t: number }; evictedAt: number | undefined; honest: string[]; s: string; epochs: number } {
  const clock = { t: 0 };
  let n = 0;
  const rooms = new RoomRegistry({ newPeerId: () => `p${++n}`, now: () => clock.t });
  const honest = fill(rooms, 'r', 3);
  const s = rooms.join('r').peerId;
  let evictedAt: number | undefined;
  let epochs = 0;
  const evicts = (outcome: { evict?: { peerId: string } | undefined }): void => {
    assert.ok(!honest.includes(outcome.evict?.peerId ?? ''), 'never an honest member');
    if (outcome.evict) evictedAt ??= epochs;
  };
  for (; epochs < 6 && evictedAt === undefined; epochs++) {
    const epoch = rooms.snapshot('r')!.epoch;
    evicts(rooms.reportFailure('r', s, epoch, honest[epoch % 3]));
    clock.t += 20_000;
    const first = rooms.reportFailure('r', honest[epoch % 3]!, epoch, s);
    assert.equal(first.newEpoch, true, 'the first honest report starts the next epoch at once');
    evicts(first);
    // s blames again at once in the next epoch; the two cut short vote for the epoch cut.
    evicts(rooms.reportFailure('r', s, epoch + 1, honest[(epoch + 1) % 3]));
    if (cutShortVote) for (const id of honest.filter((h) => h !== honest[epoch % 3])) evicts(rooms.reportFailure('r', id, epoch, s));
  }
  return { rooms, clock, evictedAt, honest, s, epochs };
}

test('a member that never connects is evicted once the members its failed epochs cut short vote too', () => {
  const { evictedAt } = silentMemberRoom(true);
  assert.equal(evictedAt, 2, 'in the third failed epoch (evictAfter 3)');
});

test('without the votes of the members cut short, nobody is ever evicted (the defect the e2e saw)', () => {
  const { rooms, evictedAt, honest, s } = silentMemberRoom(false);
  assert.equal(evictedAt, undefined);
  assert.deepEqual(rooms.snapshot('r')!.members, [...honest, s].sort());
});

test('a hostile blamer alone evicts nobody, however often it blames', () => {
  const clock = { t: 0 };
  let n = 0;
  const rooms = new RoomRegistry({ newPeerId: () => `p${++n}`, now: () => clock.t });
  const [a, , , s] = fill(rooms, 'r', 4) as [string, string, string, string];
  for (let i = 0; i < 20; i++) {
    const epoch = rooms.snapshot('r')!.epoch;
    assert.equal(rooms.reportFailure('r', s, epoch, a).evict, undefined);
    clock.t += 26_000; // nobody agrees: the lone report's wait ends
    rooms.settleResync('r');
  }
  assert.equal(rooms.snapshot('r')!.members.length, 4);
});
