/**
 * Two server processes on one real Redis (Debian's redis-server) behind a round-robin proxy, with
 * socket.io clients as tabs: one room across both, signals relayed across them, a resync and an
 * eviction decided once for the room, and the room's owner killed while its members carry on.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createClient } from 'redis';
import { io } from 'socket.io-client';
import type { Ack, EvictedEvent, JoinResult, MembersEvent, RejoinResult, SignalEvent } from '@tabswarm/shared/protocol';
import { next, record, relay, sleep, type Tab, tryJoin } from '../testing.ts';
import { metric, RedisServer, RoundRobinProxy, ServerProcess } from './testing.ts';

const LIMIT = { timeout: 90_000 };
const WAIT_MS = 5000;

async function until(what: string, check: () => boolean): Promise<void> {
  for (const started = Date.now(); !check(); await sleep(50)) assert.ok(Date.now() - started < WAIT_MS, `${what} within ${WAIT_MS} ms`);
}

interface Cluster {
  redis: RedisServer;
  a: ServerProcess;
  b: ServerProcess;
  proxy: RoundRobinProxy;
  /** A tab through the proxy: the first goes to `a`, the next to `b`, and so on. */
  tab(): Promise<Tab>;
}

async function cluster(t: TestContext, args: string[] = []): Promise<Cluster> {
  const redis = await RedisServer.start();
  const started: Array<{ stop(): Promise<void> }> = [redis];
  const tabs: Tab[] = [];
  t.after(async () => {
    for (const tab of tabs) tab.disconnect();
    for (const s of started.reverse()) await s.stop();
  });
  const a = await ServerProcess.start('a', redis.url, ['--redis-lease-ms', '1500', ...args]);
  started.push(a);
  const b = await ServerProcess.start('b', redis.url, ['--redis-lease-ms', '1500', ...args]);
  started.push(b);
  const proxy = await RoundRobinProxy.start([a.port, b.port]);
  started.push(proxy);
  return {
    redis, a, b, proxy,
    async tab() {
      const tab: Tab = io(proxy.url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300 });
      tabs.push(tab);
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error('connect timed out')), WAIT_MS);
        tab.once('connect', () => {
          clearTimeout(timer);
          done();
        });
      });
      return tab;
    },
  };
}

async function joined(tab: Tab, room: string, config?: Record<string, unknown>): Promise<JoinResult> {
  const result = await tryJoin(tab, room, config);
  assert.ok(result.ok, `join failed: ${JSON.stringify(result)}`);
  return result.data;
}

function rejoin(tab: Tab, member: JoinResult, view: MembersEvent): Promise<Ack<RejoinResult>> {
  const request = { room: member.room, peerId: member.peerId, token: member.token, config: { ...member.config }, epoch: view.epoch, members: view.members, step: 7, hash: '0123456789abcdef' };
  return tab.timeout(20_000).emitWithAck('room:rejoin', request);
}

test('a join on process a and one on process b land in one room, one epoch, and see each other', LIMIT, async (t) => {
  const c = await cluster(t);
  const first = await c.tab();
  const second = await c.tab();
  const one = await joined(first, 'shared');
  const announced = next<MembersEvent>(first, 'room:members', (e) => e.members.length === 2, WAIT_MS);
  const two = await joined(second, 'shared');
  assert.equal(one.epoch, 1);
  assert.equal(two.epoch, 2, 'the room of a, one epoch counter');
  assert.deepEqual(two.members, [one.peerId, two.peerId].sort());
  assert.deepEqual(await announced, { room: 'shared', epoch: 2, members: two.members });

  // The room lives in a (its owner); b forwarded its tab's join there.
  const [ma, mb] = await Promise.all([c.a.metrics(), c.b.metrics()]);
  assert.equal(metric(ma, 'tabswarm_cluster_rooms_owned'), 1);
  assert.equal(metric(mb, 'tabswarm_cluster_rooms_owned'), 0);
  assert.equal(metric(ma, 'tabswarm_cluster_remote_members'), 1);
  assert.equal(metric(mb, 'tabswarm_cluster_rooms_connected'), 1);
  assert.ok(metric(mb, 'tabswarm_cluster_forwarded_total') >= 1);
  assert.equal(metric(ma, 'tabswarm_members'), 2);

  // A leave on b reaches the owner: a hears it.
  const left = next<MembersEvent>(first, 'room:members', (e) => e.epoch === 3, WAIT_MS);
  second.emit('room:leave');
  assert.deepEqual((await left).members, [one.peerId]);
});

test('signals relay across processes, both ways, in order', LIMIT, async (t) => {
  const c = await cluster(t);
  const first = await c.tab();
  const second = await c.tab();
  const one = await joined(first, 'relay');
  const two = await joined(second, 'relay');
  const atTwo = record<SignalEvent>(second, 'signal');
  const atOne = record<SignalEvent>(first, 'signal');
  for (let i = 0; i < 5; i++) assert.deepEqual(await relay(first, two.peerId, { sdp: `offer ${i}` }), { ok: true, data: null });
  assert.deepEqual(await relay(second, one.peerId, { candidate: 'c' }), { ok: true, data: null });
  for (const started = Date.now(); atTwo.length < 5 || atOne.length < 1; await sleep(20)) assert.ok(Date.now() - started < WAIT_MS, 'signals arrive');
  assert.deepEqual(atTwo, [0, 1, 2, 3, 4].map((i) => ({ from: one.peerId, data: { sdp: `offer ${i}` } })));
  assert.deepEqual(atOne, [{ from: two.peerId, data: { candidate: 'c' } }]);
  // A peer id of no member is refused by the owner, by name.
  const refused = await relay(second, 'nobody', {});
  assert.equal(refused.ok ? '' : refused.error.name, 'PeerNotFoundError');
});

test('a resync and an eviction are decided once for the room, not once per process', LIMIT, async (t) => {
  const c = await cluster(t, ['--resync-window-ms', '1', '--eviction-cooldown-ms', '1']);
  const tabs = [await c.tab(), await c.tab(), await c.tab()];
  const ids: string[] = [];
  const full = tabs.map((tab) => next<MembersEvent>(tab, 'room:members', (e) => e.epoch === 3, WAIT_MS));
  for (const tab of tabs) ids.push((await joined(tab, 'votes')).peerId);
  await Promise.all(full);
  const seen = tabs.map((tab) => record<MembersEvent>(tab, 'room:members'));
  // Tabs 0 and 2 are on a, tab 1 on b: all three report the same failed epoch 3.
  for (const tab of tabs) tab.emit('room:resync', { epoch: 3 });
  await sleep(1000);
  for (const events of seen) assert.deepEqual(events.map((e) => e.epoch), [4], 'one new epoch, whoever asked where');

  // Tabs 1 (on b) and 2 (on a) blame tab 0 in three failed epochs: it goes, once.
  const evicted = record<EvictedEvent>(tabs[0]!, 'room:evicted');
  for (let epoch = 4; epoch < 7; epoch++) {
    const nextEpoch = next<MembersEvent>(tabs[1]!, 'room:members', (e) => e.epoch > epoch, WAIT_MS);
    tabs[1]!.emit('room:resync', { epoch, suspect: ids[0] });
    tabs[2]!.emit('room:resync', { epoch, suspect: ids[0] });
    await nextEpoch;
  }
  await sleep(500);
  assert.equal(evicted.length, 1);
  const last = seen[1]!.at(-1)!;
  assert.deepEqual(last.members, [ids[1]!, ids[2]!].sort());
  assert.equal(metric(await c.a.metrics(), 'tabswarm_evictions_total'), 1);
  assert.equal(metric(await c.b.metrics(), 'tabswarm_evictions_total'), 0);
});

test('the room\'s owner is killed: its members re-register through the other process, the room goes on', LIMIT, async (t) => {
  const c = await cluster(t);
  const first = await c.tab();
  const second = await c.tab();
  const members = [await joined(first, 'failover'), await joined(second, 'failover')];
  const view: MembersEvent = { room: 'failover', epoch: 2, members: members[1]!.members };
  // Each tab re-registers as soon as it is back, as the client does: the one that was on a at
  // once (through the proxy, to b, while a's lease still names a), the one on b when b sees a's
  // room lose its owner and makes it reconnect.
  const sent: Array<string | undefined> = [];
  const answered = [first, second].map((tab, i) => new Promise<Ack<RejoinResult>>((done) => tab.once('connect', () => {
    sent[i] = tab.id;
    done(rejoin(tab, members[i]!, view));
  })));

  const killedAt = Date.now();
  await c.a.stop();
  const answers = await Promise.all(answered.map((p) => Promise.race([p, sleep(20_000).then(() => assert.fail('no answer within 20 s'))])));
  const rejoinedMs = Date.now() - killedAt;
  for (const answer of answers) {
    assert.ok(answer.ok, `rejoin: ${JSON.stringify(answer)}`);
    assert.equal(answer.data.epoch, 2, 'one view, everyone back: the epoch is kept');
    assert.deepEqual(answer.data.members, view.members);
    assert.equal(answer.data.adopt, false);
  }
  // The rejoin sent while the dead owner held the lease was routed again, on the same connection.
  assert.deepEqual(sent, [first.id, second.id]);
  t.diagnostic(`owner killed; both members re-registered with b ${rejoinedMs} ms later`);
  const mb = await c.b.metrics();
  assert.equal(metric(mb, 'tabswarm_cluster_rooms_owned'), 1);
  assert.equal(metric(mb, 'tabswarm_cluster_owners_lost_total'), 1);

  // The room takes a new member as before, and relays between the old ones.
  const third = await c.tab();
  const added = await joined(third, 'failover');
  assert.equal(added.epoch, 3);
  assert.equal(added.members.length, 3);
  assert.deepEqual(await relay(first, members[1]!.peerId, { sdp: 'after' }), { ok: true, data: null });
});

test('a tab that moves to a room of the other process leaves the old room at its owner and stays connected', LIMIT, async (t) => {
  const c = await cluster(t, ['--join-within-ms', '1000']);
  const first = await c.tab();
  const second = await c.tab();
  const one = await joined(first, 'old');
  await joined(second, 'old');
  const left = next<MembersEvent>(first, 'room:members', (e) => e.members.length === 1, WAIT_MS);
  // `new` is owned by b, where the second tab is connected: its process claims it.
  const moved = await joined(second, 'new');
  assert.deepEqual(moved.members.length, 1);
  assert.deepEqual((await left).members, [one.peerId]);
  // Past the idle limit of a socket in no room: the old owner must not hang it up.
  await sleep(2000);
  assert.equal(second.connected, true);
  assert.equal(metric(await c.b.metrics(), 'tabswarm_cluster_rooms_owned'), 1);
});

test('Redis away for 4 s and back empty: events meanwhile are answered as unavailable; the room stays where it was, and relays and joins go on across processes', LIMIT, async (t) => {
  const c = await cluster(t);
  const first = await c.tab();
  const second = await c.tab();
  const one = await joined(first, 'outage');
  const two = await joined(second, 'outage');
  const restarted = c.redis.restart(4000);
  await sleep(500);
  // While Redis is away a tab's event is answered, within the 2 s a Redis command may take.
  const asked = Date.now();
  const away: Ack<null> = await first.timeout(5000).emitWithAck('signal:relay', { to: two.peerId, data: { sdp: 'while away' } });
  // (A rare failure here, seen once in CI: NotInRoomError instead; the processes' last lines say why next time.)
  assert.deepEqual(away, { ok: false, error: { name: 'InternalError', message: 'the room service is unavailable; try again' } }, `a: ${c.a.lines.slice(-40).join('\n')}\nb: ${c.b.lines.slice(-8).join('\n')}`);
  assert.ok(Date.now() - asked < 3000, `answered in ${Date.now() - asked} ms`);
  await restarted;
  // Past a renewal: the owner has claimed its room's key again.
  await sleep(1500);
  const atTwo = record<SignalEvent>(second, 'signal');
  for (const started = Date.now(); ; await sleep(200)) {
    // Until both processes are back on Redis, a relay may be lost (nothing is queued): the tab asks again, as WebRTC does.
    if ((await relay(first, two.peerId, { sdp: 'after the restart' }).catch(() => undefined))?.ok && atTwo.length > 0) break;
    assert.ok(Date.now() - started < 10_000, 'relays go through again within 10 s');
  }
  assert.deepEqual(atTwo[0], { from: one.peerId, data: { sdp: 'after the restart' } });
  const third = await c.tab();
  const added = await joined(third, 'outage');
  assert.equal(added.epoch, 3, 'the same room, its epoch counter kept');
  assert.equal(added.members.length, 3);
  assert.equal(second.connected && first.connected, true, 'nobody was made to reconnect');
  const [ma, mb] = await Promise.all([c.a.metrics(), c.b.metrics()]);
  assert.equal(metric(ma, 'tabswarm_cluster_rooms_owned') + metric(mb, 'tabswarm_cluster_rooms_owned'), 1);
});

test('an owner that finds its room\'s lease taken forgets the room; its members re-register with the next owner', LIMIT, async (t) => {
  const c = await cluster(t);
  const first = await c.tab();
  const second = await c.tab();
  const members = [await joined(first, 'taken'), await joined(second, 'taken')];
  const view: MembersEvent = { room: 'taken', epoch: 2, members: members[1]!.members };
  const answered = [first, second].map((tab, i) => new Promise<Ack<RejoinResult>>((done) => tab.once('connect', () => done(rejoin(tab, members[i]!, view)))));
  // As after a Redis outage that outlasted the lease: someone else holds the key for a while.
  const redis = createClient({ url: c.redis.url });
  await redis.connect();
  await redis.set('tabswarm:owner:taken', 'another-process', { PX: 1000 });
  redis.destroy();

  const answers = await Promise.all(answered.map((p) => Promise.race([p, sleep(20_000).then(() => assert.fail('no answer within 20 s'))])));
  for (const answer of answers) {
    assert.ok(answer.ok, `rejoin: ${JSON.stringify(answer)}`);
    assert.equal(answer.data.epoch, 2, 'one view, everyone back: the epoch is kept');
    assert.deepEqual(answer.data.members, view.members);
  }
  const [ma, mb] = await Promise.all([c.a.metrics(), c.b.metrics()]);
  assert.equal(metric(ma, 'tabswarm_cluster_rooms_owned') + metric(mb, 'tabswarm_cluster_rooms_owned'), 1, 'one owner again');
  assert.equal(c.a.lines.filter((l) => l.includes('is owned by another-process now: forgotten here')).length, 1);
});

test('a process that is not the owner dies: its tab that comes back keeps its membership, the one that does not leaves the room', LIMIT, async (t) => {
  const c = await cluster(t);
  const tabs = [await c.tab(), await c.tab(), await c.tab(), await c.tab()];
  const members: JoinResult[] = [];
  for (const tab of tabs) members.push(await joined(tab, 'survive'));
  const ids = members.map((m) => m.peerId);
  const view: MembersEvent = { room: 'survive', epoch: 4, members: members[3]!.members };
  // Tabs 1 and 3 are on b; 3 never comes back (its browser went with it, say).
  tabs[3]!.io.reconnection(false);
  const back = new Promise<Ack<RejoinResult>>((done) => tabs[1]!.once('connect', () => done(rejoin(tabs[1]!, members[1]!, view))));
  // After the view: a broadcast reaches even a tab of its own process only once Redis took it, so
  // under load an older one (epoch 1, one member) may still be on its way.
  const without = next<MembersEvent>(tabs[0]!, 'room:members', (e) => e.epoch > view.epoch, 10_000);
  await c.b.stop();

  const answer = await back;
  assert.ok(answer.ok, `rejoin: ${JSON.stringify(answer)}`);
  assert.equal(answer.data.epoch, 4, 'a member the owner never lost: nothing changes');
  const after = await without;
  assert.deepEqual(after.members, [ids[0]!, ids[1]!, ids[2]!].sort(), 'the tab that did not come back left; the others stay');
  assert.equal(after.epoch, 5);
  // Its log line comes through a pipe, maybe after the broadcast.
  await until('the owner logs the lost process', () => c.a.lines.some((l) => l.includes('is gone: its tabs leave their rooms')));
});
