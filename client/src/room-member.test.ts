/**
 * RoomMember.close() in Node, against a real signaling server in this process: it ends the
 * training loop, closes the signaling socket (the server sees the member leave), and is
 * idempotent. Training itself over WebRTC is covered by node/node-worker.test.ts.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer, type IceOptions, type SignalingServer } from '@tabswarm/signaling-server';
import { builtinTasks, type LocalDataSpec } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { nodeWrtc, releaseWrtc } from './node/wrtc.ts';
import { RoomMember, type LocalData, type RoomMemberOptions } from './room-member.ts';

const WAIT_MS = 10_000;
const LIMIT = { timeout: 30_000 };
/** Waits for the second member that never comes: the first stays `connecting`, its session running. */
const PARAMS = { workers: '2', steps: '3', batchSize: '8', evalSize: '10' };

async function serve(t: TestContext, ice?: IceOptions): Promise<{ url: string; server: SignalingServer }> {
  const listening = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), ...(ice ? { ice } : {}) });
  t.after(() => listening.close());
  return { url: listening.url, server: listening.signaling };
}

/** A member on tfjs cpu with a small synthetic task; `changed` wakes whoever waits in `until`. */
function member(url: string, room: string, wrtc?: unknown, extra: Partial<RoomMemberOptions> = {}): { member: RoomMember; until(check: (s: TabStatus) => boolean, what: string, ms?: number): Promise<void> } {
  const waiters = new Set<() => void>();
  const m = new RoomMember(
    {
      room,
      signalingUrl: url,
      params: PARAMS,
      startBackend: async () => {
        await tf.setBackend('cpu');
        return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
      },
      task: builtinTasks(() => Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) })),
      ...(wrtc ? { wrtc } : {}),
      ...extra,
    },
    () => {
      for (const wake of waiters) wake();
    },
  );
  return {
    member: m,
    until: (check, what, ms = WAIT_MS) =>
      new Promise((resolve, reject) => {
        const wake = (): void => {
          if (!check(m.status())) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`${what}: not within ${ms} ms`));
        }, ms);
        waiters.add(wake);
        wake();
      }),
  };
}

/** The server handles a disconnect asynchronously: wait (with a deadline) until the room is gone. */
async function roomGone(server: SignalingServer, room: string): Promise<void> {
  for (const started = Date.now(); server.rooms().some((r) => r.room === room); ) {
    if (Date.now() - started > WAIT_MS) assert.fail(`room ${room} still open after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('close() while waiting for peers ends the run, leaves the room and is idempotent', LIMIT, async (t) => {
  const { url, server } = await serve(t);
  const { member: m, until } = member(url, 'closing');
  const run = m.start();
  assert.equal(m.start(), run, 'start() twice is the same run');
  await until((s) => s.peerId !== null && s.epoch === 1, 'joined');
  assert.deepEqual(server.rooms().map((r) => r.members), [[m.status().peerId]]);

  const first = m.close();
  assert.equal(m.close(), first, 'every close() returns the same promise');
  await first;
  await run;
  const after = m.status();
  assert.equal(after.error, null, 'closing is no failure');
  assert.notEqual(after.state, 'error');
  assert.deepEqual(after.connectedPeers, []);
  await roomGone(server, 'closing');
  await m.close(); // once more, after the fact: nothing happens
});

test('close() before start() opens nothing', LIMIT, async (t) => {
  const { url, server } = await serve(t);
  const { member: m } = member(url, 'never');
  await m.close();
  await m.start();
  assert.equal(m.status().peerId, null);
  assert.equal(m.status().error, null);
  assert.deepEqual(server.rooms(), []);
});

test('a member hands its join ack\'s ICE servers to every connection, and reports each peer\'s path', { timeout: 60_000 }, async (t) => {
  t.after(() => releaseWrtc('node-datachannel'));
  // Nothing listens there: the members find each other by host candidates, as on one machine.
  const ice: IceOptions = { stun: ['stun:127.0.0.1:9'], turn: { urls: ['turn:127.0.0.1:9?transport=udp'], secret: 'test-secret', ttlSeconds: 3600 } };
  const { url } = await serve(t, ice);
  const configs: Array<Array<RTCConfiguration | undefined>> = [[], []];
  /** node-datachannel, recording the configuration of each connection a member opens. */
  const recording = (seen: Array<RTCConfiguration | undefined>): unknown => ({
    ...nodeWrtc,
    RTCPeerConnection: class extends nodeWrtc.RTCPeerConnection {
      constructor(config?: RTCConfiguration) {
        seen.push(config);
        super(config);
      }
    },
  });
  const members = [member(url, 'ice', recording(configs[0]!)), member(url, 'ice', recording(configs[1]!))];
  for (const m of members) void m.member.start();
  try {
    // Finished members keep their channels open, so the path is measured within a few seconds.
    // (A run and a stats poll: 30 s, for a loaded machine.)
    for (const m of members) await m.until((s) => s.state === 'done' && s.peerPaths.length === 1 && s.peerPaths[0]!.path !== 'unknown', 'done, path measured', 30_000);
    for (const [i, m] of members.entries()) {
      const s = m.member.status();
      assert.deepEqual(s.peerPaths.map((p) => p.peerId), s.connectedPeers);
      assert.equal(s.peerPaths[0]!.path, 'direct');
      assert.equal(s.peerPaths[0]!.localCandidateType, 'host');
      assert.ok(configs[i]!.length >= 1, 'a connection was opened');
      for (const config of configs[i]!) {
        const [stun, turn] = config?.iceServers ?? [];
        assert.deepEqual(stun, { urls: ice.stun });
        assert.deepEqual(turn?.urls, ice.turn!.urls);
        assert.match(turn?.username ?? '', new RegExp(`^\\d+:${s.peerId}$`), 'TURN credentials of this member');
        assert.equal(typeof turn?.credential, 'string');
      }
    }
  } finally {
    await Promise.all(members.map((m) => m.member.close()));
  }
});

test('a member with data of its own joins only once it has it, and trains on it with a member on a shard', { timeout: 60_000 }, async (t) => {
  t.after(() => releaseWrtc('node-datachannel'));
  const { url, server } = await serve(t);
  const asked: LocalDataSpec[] = [];
  let give: (data: LocalData) => void = () => undefined;
  const localData = (spec: LocalDataSpec): Promise<LocalData> => {
    asked.push(spec);
    return new Promise((resolve) => (give = resolve));
  };
  const local = member(url, 'own-data', nodeWrtc, { localData });
  const builtin = member(url, 'own-data', nodeWrtc);
  void local.member.start();
  try {
    await local.until((s) => s.events.some((e) => e.kind === 'data'), 'asked for its data');
    assert.deepEqual(asked, [{ shape: [8, 8, 1], classes: 4, scale: 255 }], "the task's shape and classes; MNIST's tasks take bytes");
    assert.deepEqual(local.member.status().data?.files, [], 'its own data, none chosen yet');
    assert.equal(local.member.status().data?.source, 'local');
    void builtin.member.start();
    await builtin.until((s) => s.peerId !== null, 'the other member joined');
    assert.deepEqual(server.rooms().map((r) => r.members), [[builtin.member.status().peerId]], 'the member choosing its data is not in the room');
    give({ train: quadrantImages(24, 8, 7), files: ['mine.csv'] });
    for (const m of [local, builtin]) await m.until((s) => s.state === 'done', 'done', 30_000);
    const [a, b] = [local.member.status(), builtin.member.status()];
    assert.equal(a.weightsHash, b.weightsHash);
    assert.equal(a.data?.source, 'local');
    assert.equal(a.data?.trainExamples, 24, 'all of its own examples, whatever its rank');
    assert.deepEqual(a.data?.files, ['mine.csv']);
    assert.equal(a.data?.classCounts?.reduce((x, y) => x + y), 24);
    assert.equal(b.data?.source, 'builtin');
    assert.equal(b.data?.examples, 64, "the task's own (a Dataset in memory holds them all)");
    assert.equal(a.testAccuracy, b.testAccuracy, "both measured on the task's test set");
  } finally {
    await Promise.all([local.member.close(), builtin.member.close()]);
  }
});
