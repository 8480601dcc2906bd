/**
 * Room members in Node (tfjs cpu, node-datachannel) while their signaling server goes away and
 * comes back on the same port: training goes on over the data channels, the members re-register
 * the room under the same peer ids and finish identical; a member whose peer dies while the
 * server is away pauses and says so, and goes on once the server has changed the membership.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer, type ListenOptions, type ListeningServer } from '@tabswarm/signaling-server';
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

function member(t: TestContext, url: string, room: string, steps: number): RoomMember {
  const m = new RoomMember(
    {
      room,
      signalingUrl: url,
      params: { ...PARAMS, steps: String(steps) },
      startBackend: async () => {
        await tf.setBackend('cpu');
        return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
      },
      loadData: () => Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) }),
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
