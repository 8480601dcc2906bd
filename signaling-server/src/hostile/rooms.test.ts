/**
 * Hostile row: "1,000 sockets from one address, one room each: all 1,000 rooms created; an honest
 * tab then gets TooManyRoomsError". Now connections per address and in total are capped at the
 * handshake, rooms opened per address are bounded, idle sockets are dropped and rooms that never
 * start are closed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvictedEvent } from '@tabswarm/shared/protocol';
import { errorOf, joined, next, tryJoin, type Tab } from '../testing.ts';
import { arena, ATTACKER, disconnected, HONEST } from './kit.ts';

test('1,000 sockets from one address, one room each: a bounded number of connections and rooms; an honest tab still opens a room', { timeout: 60_000 }, async (t) => {
  const h = await arena(t);
  let connected = 0;
  let refused = 0;
  let rooms = 0;
  const tabs: Tab[] = [];
  // In waves of 50, so the test machine's own sockets stay few at a time.
  for (let wave = 0; wave < 20; wave++) {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      let tab: Tab;
      try {
        tab = await h.from(ATTACKER);
      } catch {
        refused += 1;
        return;
      }
      connected += 1;
      tabs.push(tab);
      if ((await tryJoin(tab, `squat-${wave}-${i}`)).ok) rooms += 1;
    }));
  }
  t.diagnostic(`1,000 attempts: ${connected} connected, ${refused} refused, ${rooms} rooms opened`);
  assert.equal(connected + refused, 1000);
  assert.ok(connected <= 64, `${connected} connections from one address`);
  assert.ok(rooms <= 8, `${rooms} rooms from one address`);
  assert.ok(h.signaling.rooms().length <= 8);
  const honest = await joined(await h.from(HONEST[0]), 'honest-room');
  assert.equal(honest.members.length, 1);
  for (const tab of tabs) tab.disconnect();
});

test('the total connection cap refuses the handshake, holding nothing', { timeout: 20_000 }, async (t) => {
  const h = await arena(t, { maxConnections: 3 });
  for (const address of HONEST.slice(0, 3)) await h.from(address);
  await assert.rejects(h.from(HONEST[3]));
});

test('a socket that joins no room within joinWithinMs is disconnected; one that joined stays', { timeout: 20_000 }, async (t) => {
  const h = await arena(t, { joinWithinMs: 300 });
  const idle = await h.from(ATTACKER);
  const member = await h.from(HONEST[0]);
  await joined(member, 'busy');
  assert.equal(await disconnected(idle, 2000), true, 'idle socket dropped');
  assert.equal(await disconnected(member, 500), false, 'member kept');
  // Leaving a room starts the clock again.
  member.emit('room:leave');
  assert.equal(await disconnected(member, 2000), true);
});

test('a room that never reaches its workers is closed after roomStartMs; its members are told why', { timeout: 20_000 }, async (t) => {
  const h = await arena(t, { roomStartMs: 300, joinWithinMs: 60_000 });
  const waiting = await h.from(ATTACKER);
  const evicted = next<EvictedEvent>(waiting, 'room:evicted', () => true, 3000);
  await joined(waiting, 'never', { workers: 4 });
  const started = await h.from(HONEST[0]);
  await joined(started, 'solo', { workers: 1 });
  assert.match((await evicted).reason, /did not reach 4 workers/);
  assert.deepEqual(h.signaling.rooms().map((r) => r.room), ['solo']);
});

test('rooms opened per address are bounded (TooManyRoomsError), and freed when they close', { timeout: 20_000 }, async (t) => {
  const h = await arena(t, { maxRoomsPerAddress: 2 });
  const tabs = [await h.from(ATTACKER), await h.from(ATTACKER), await h.from(ATTACKER)];
  await joined(tabs[0]!, 'a1');
  await joined(tabs[1]!, 'a2');
  const error = errorOf(await tryJoin(tabs[2]!, 'a3'));
  assert.equal(error.name, 'TooManyRoomsError');
  tabs[0]!.emit('room:leave');
  await joined(tabs[2]!, 'a3');
});
