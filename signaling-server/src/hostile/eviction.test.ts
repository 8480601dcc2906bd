/**
 * Hostile row: "2 sockets from one client blame honest members in resyncs: all 3 honest members
 * of a room evicted in 670 ms". Now eviction counts the room, not the reporters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvictedEvent } from '@tabswarm/shared/protocol';
import { errorOf, joined, LIMIT, next, rawAck, record, sleep, tryJoin, type Tab } from '../testing.ts';
import { arena, ATTACKER, HONEST } from './kit.ts';

test('two hostile sockets blaming honest members as fast as they may evict nobody', LIMIT, async (t) => {
  // The strongest attacker: no resync window and no cooldown between evictions to hide behind.
  const h = await arena(t, { resyncWindowMs: 0, evictionCooldownMs: 0 });
  const honest: Tab[] = [];
  const ids: string[] = [];
  for (const address of HONEST.slice(0, 3)) {
    const tab = await h.from(address);
    honest.push(tab);
    ids.push((await joined(tab, 'target')).peerId);
  }
  const evictions = honest.map((tab) => record<EvictedEvent>(tab, 'room:evicted'));
  const hostile = [await h.from(ATTACKER), await h.from(ATTACKER)];
  for (const tab of hostile) await joined(tab, 'target');

  const started = performance.now();
  let accepted = 0;
  let refused = 0;
  // Paced under the per-socket event limit, so every report is answered (accepted or refused).
  for (let round = 0; performance.now() - started < 1500; round++) {
    const epoch = h.signaling.rooms()[0]!.epoch;
    const suspect = ids[round % ids.length]!;
    for (const tab of hostile) {
      if ((await rawAck(tab, 'room:resync', { epoch, suspect })).ok) accepted += 1;
      else refused += 1;
    }
    await sleep(20);
  }
  await sleep(100);
  t.diagnostic(`hostile resyncs: ${accepted} accepted, ${refused} refused (budget)`);
  assert.ok(accepted >= 10, `the attack ran (${accepted} reports accepted)`);
  assert.deepEqual(evictions.map((e) => e.length), [0, 0, 0], 'no honest member evicted');
  const members = h.signaling.rooms()[0]!.members;
  for (const id of ids) assert.ok(members.includes(id), `honest ${id.slice(0, 8)} still a member`);
});

test('the room still evicts the member most of it blames', LIMIT, async (t) => {
  const h = await arena(t, { resyncWindowMs: 0 });
  const honest: Tab[] = [];
  for (const address of HONEST.slice(0, 3)) {
    const tab = await h.from(address);
    honest.push(tab);
    await joined(tab, 'culprit');
  }
  const culpritTab = await h.from(ATTACKER);
  const culprit = (await joined(culpritTab, 'culprit')).peerId;
  const evicted = next<EvictedEvent>(culpritTab, 'room:evicted');
  for (let failure = 0; failure < 3; failure++) {
    const epoch = h.signaling.rooms()[0]!.epoch;
    for (const tab of honest) await rawAck(tab, 'room:resync', { epoch, suspect: culprit });
  }
  assert.equal((await evicted).room, 'culprit');
  assert.equal(h.signaling.rooms()[0]!.members.includes(culprit), false);
});

test('one address holds at most maxMembersPerAddress memberships of a room; other addresses still join', LIMIT, async (t) => {
  const h = await arena(t, { maxMembersPerAddress: 4 });
  for (let i = 0; i < 4; i++) await joined(await h.from(ATTACKER), 'capped');
  const refused = errorOf(await tryJoin(await h.from(ATTACKER), 'capped'));
  assert.equal(refused.name, 'RoomFullError');
  assert.match(refused.message, /this address holds 4 members/);
  assert.equal((await joined(await h.from(HONEST[0]), 'capped')).members.length, 5);
  // The default is high enough for one person's own tabs on one machine.
  const d = await arena(t);
  for (let i = 0; i < 16; i++) await joined(await d.from(HONEST[1]), 'my-tabs');
  assert.equal(d.signaling.rooms()[0]!.members.length, 16);
});
