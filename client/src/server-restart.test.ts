/**
 * Room members in Node (tfjs cpu, node-datachannel) while their signaling server goes away and
 * comes back on the same port: training goes on over the data channels, the members re-register
 * the room under the same peer ids and finish identical; a member whose peer dies while the
 * server is away pauses and says so, and goes on once the server has changed the membership.
 * And a split brain (two servers answering one address, each rebuilding half the room, both
 * halves training) healed by one server: the majority's state wins, the other adopts it.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer, type ListenOptions, type ListeningServer } from '@tabswarm/signaling-server';
import { builtinTasks } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { nodeWrtc, releaseWrtc } from './node/wrtc.ts';
import { RoomMember } from './room-member.ts';

const SERVER: ListenOptions = { log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') };
/** Shaped links make a step take a few hundred ms, so an outage of seconds falls mid-run. */
const PARAMS = { workers: '2', batchSize: '8', evalSize: '10', evalEvery: '1000', checkEvery: '5', latency: '60ms' };

test.after(() => releaseWrtc('node-datachannel'));

/** A server that can be stopped and started again on the same port. */
async function restartable(t: TestContext, options: ListenOptions = {}): Promise<{ url: string; stop(): Promise<void>; start(): Promise<void> }> {
  let server: ListeningServer | undefined = await listenSignalingServer({ ...SERVER, ...options });
  const { port, url } = server;
  t.after(() => server?.close());
  return {
    url,
    stop: async () => {
      await server?.close();
      server = undefined;
    },
    start: async () => {
      server = await listenSignalingServer({ ...SERVER, ...options, port });
    },
  };
}

/**
 * A TCP forwarder in front of a member's server address: pointing it elsewhere hangs up every
 * connection, as if another process now answered at that address.
 */
async function forwarder(t: TestContext, port: number): Promise<{ url: string; point(port: number): void }> {
  let target = port;
  const open = new Set<Socket>();
  const server = createNetServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    const end = (): void => {
      for (const s of [client, upstream]) {
        s.destroy();
        open.delete(s);
      }
    };
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of open) s.destroy();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    point(next) {
      target = next;
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}

function member(t: TestContext, url: string, room: string, steps: number, params: Record<string, string> = {}): RoomMember {
  const m = new RoomMember(
    {
      room,
      signalingUrl: url,
      params: { ...PARAMS, steps: String(steps), ...params },
      startBackend: async () => {
        await tf.setBackend('cpu');
        return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
      },
      task: builtinTasks(() => Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) })),
      wrtc: nodeWrtc,
    },
    () => {},
  );
  t.after(() => m.close());
  return m;
}

/** Polls `members` until `check` holds, failing with their statuses after `ms`. */
async function until(members: RoomMember[], check: (s: TabStatus[]) => boolean, what: string, ms = 30_000): Promise<TabStatus[]> {
  const started = Date.now();
  for (;;) {
    const statuses = members.map((m) => m.status());
    const failed = statuses.find((s) => s.state === 'error');
    if (failed) assert.fail(`${what}: a member failed: ${failed.error}`);
    if (check(statuses)) return statuses;
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms: ${JSON.stringify(statuses.map((s) => [s.state, s.step, s.epoch, s.signaling, s.events.map((e) => `${e.kind}: ${e.message}`)]), null, 1)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('the server goes away mid-run and comes back: training goes on meanwhile, same ids, identical replicas', { timeout: 120_000 }, async (t) => {
  const server = await restartable(t);
  const steps = 70;
  const members = [member(t, server.url, 'restart', steps), member(t, server.url, 'restart', steps)];
  void members.map((m) => m.start());
  const before = await until(members, (s) => s.every((x) => x.step >= 10), 'training');
  const ids = before.map((s) => s.peerId);

  await server.stop();
  const down = await until(members, (s) => s.every((x) => x.signaling.state === 'reconnecting'), 'saw the server go');
  const stepAtKill = Math.max(...down.map((s) => s.step));
  await until(members, (s) => s.every((x) => x.step >= stepAtKill + 5), 'kept training while the server is away', 20_000);
  assert.ok(members.every((m) => !m.status().signaling.paused));

  await server.start();
  await until(members, (s) => s.every((x) => x.signaling.state === 'connected'), 'reconnected');
  const end = await until(members, (s) => s.every((x) => x.state === 'done'), 'done', 60_000);
  assert.deepEqual(end.map((s) => s.peerId), ids, 'the same peer ids');
  assert.ok(end.every((s) => s.step === steps));
  assert.equal(new Set(end.map((s) => s.weightsHash)).size, 1, 'identical replicas');
  for (const [i, m] of members.entries()) {
    const recorded = m.history().map((r) => r.step);
    assert.deepEqual(recorded, Array.from({ length: steps }, (_, k) => k + 1), `member ${i}: every step once, never back`);
    const events = m.status().events.map((e) => `${e.kind}: ${e.message}`);
    assert.ok(events.some((e) => /^signaling: re-registered room restart/.test(e)), events.join('\n'));
    assert.ok(!events.some((e) => /^(fork|evicted|paused)/.test(e)), events.join('\n'));
  }
  const [a, b] = members.map((m) => m.history());
  assert.deepEqual(a!.map((r) => r.weightsHash), b!.map((r) => r.weightsHash), 'identical at every step');
});

test('a peer dies while the server is away: the survivor pauses and says so, then goes on once the server is back', { timeout: 120_000 }, async (t) => {
  // The dead peer never re-registers: a short window rebuilds the room without it sooner.
  const server = await restartable(t, { rebuildWindowMs: 1000 });
  const steps = 60;
  const [a, b] = [member(t, server.url, 'pause', steps), member(t, server.url, 'pause', steps)] as [RoomMember, RoomMember];
  void a.start();
  void b.start();
  await until([a, b], (s) => s.every((x) => x.step >= 5), 'training');
  await server.stop();
  await until([a], (s) => s[0]!.signaling.state === 'reconnecting', 'saw the server go');
  await b.close();
  const paused = (await until([a], (s) => s[0]!.signaling.paused, 'paused'))[0]!;
  assert.ok(paused.events.some((e) => e.kind === 'paused' && /failed while the signaling server is away/.test(e.message)));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(a.status().step, paused.step, 'no step alone while the server is away');
  assert.equal(a.status().signaling.paused, true);

  await server.start();
  const end = (await until([a], (s) => s[0]!.state === 'done', 'done alone once the server removed the dead peer', 60_000))[0]!;
  assert.equal(end.step, steps);
  assert.deepEqual(end.peers, []);
  assert.equal(end.signaling.paused, false);
  const recorded = a.history().map((r) => r.step);
  assert.deepEqual(recorded, Array.from({ length: steps }, (_, k) => k + 1));
});

test('a split brain healed: the view most members share wins, the others drop their fork and catch up', { timeout: 150_000 }, async (t) => {
  const steps = 80;
  const serve = async (options: ListenOptions = {}): Promise<ListeningServer> => {
    const server = await listenSignalingServer({ ...SERVER, ...options });
    t.after(() => server.close());
    return server;
  };
  const first = await serve();
  const links = await Promise.all(Array.from({ length: 5 }, () => forwarder(t, first.port)));
  const members = links.map((link) => member(t, link.url, 'fork', steps, { workers: '5' }));
  members.forEach((m, i) => void m.start().catch((err: unknown) => assert.fail(`member ${i}: ${String(err)}`)));
  const together = await until(members, (s) => s.every((x) => x.step >= 5 && x.peers.length === 4), 'training together', 60_000);
  const ids = together.map((s) => s.peerId);
  const [minority, majority] = [[0, 1], [2, 3, 4]];

  // Split: a quiet shutdown, then members 0-1's address answered by one server, 2-4's by another.
  await first.close();
  const [small, large] = [await serve({ rebuildWindowMs: 1000 }), await serve({ rebuildWindowMs: 1000 })];
  for (const i of minority) links[i]!.point(small.port);
  for (const i of majority) links[i]!.point(large.port);
  const split = await until(members, (s) => minority.every((i) => s[i]!.peers.length === 1) && majority.every((i) => s[i]!.peers.length === 2), 'two forks');
  const stepAtSplit = Math.max(...split.map((s) => s.step));
  const forked = await until(members, (s) => s.every((x) => x.step >= stepAtSplit + 5), 'both forks trained');
  assert.notEqual(forked[0]!.weightsHash, forked[2]!.weightsHash);
  assert.ok(forked.every((x) => x.state === 'training'));

  // Healed: one server at every address again; the larger fork's view wins.
  const healed = await serve();
  await Promise.all([small.close(), large.close()]);
  for (const link of links) link.point(healed.port);
  const end = await until(members, (s) => s.every((x) => x.state === 'done'), 'done together', 90_000);
  assert.deepEqual(end.map((s) => s.peerId), ids, 'the same peer ids');
  assert.ok(end.every((s) => s.step === steps && s.peers.length === 4), JSON.stringify(end.map((s) => [s.step, s.peers.length])));
  assert.equal(new Set(end.map((s) => s.weightsHash)).size, 1, 'identical replicas');
  const forkEvents = end.map((s) => s.events.filter((e) => e.kind === 'fork').map((e) => e.message));
  for (const i of minority) {
    assert.equal(forkEvents[i]!.length, 1, `member ${i} says it dropped its fork`);
    assert.match(forkEvents[i]![0]!, /wins over ours .*dropping our state/);
  }
  for (const i of majority) assert.deepEqual(forkEvents[i], [], `member ${i} keeps its state`);
  // The majority never stepped back (one a step behind at the heal may take the state of the
  // next); a minority member's history restarts where it took the majority's state. Every
  // recorded step holds the weights the majority trained.
  const byStep = new Map<number, string>();
  for (const i of majority) for (const r of members[i]!.history()) byStep.set(r.step, r.weightsHash);
  for (const [i, m] of members.entries()) {
    const recorded = m.history();
    assert.ok(recorded.every((r, k) => k === 0 || r.step > recorded[k - 1]!.step), `member ${i}: steps only go forward`);
    if (minority.includes(i)) assert.ok(recorded.length > 0 && recorded[0]!.step > stepAtSplit, `member ${i} trained again after adopting`);
    else assert.ok(recorded.length >= steps - 1, `member ${i} recorded the run`);
    for (const r of recorded) assert.equal(r.weightsHash, byStep.get(r.step), `member ${i}, step ${r.step}: as the majority trained it`);
  }
});
