/**
 * Three honest members in Node (real WebRTC over node-datachannel) and a member that joins over
 * the signaling socket, never opens a channel and blames an honest member in every epoch. Each
 * epoch with it fails at the honest members' 20 s connect deadline; the first of them to give up
 * starts the next epoch and cuts the others short, who vote for the cut epoch all the same, so
 * most of the room blames the silent member and the server evicts it after 3 such epochs. Then
 * the honest members train to the end with identical weights, and none of them was evicted.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { io } from 'socket.io-client';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { builtinTasks } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import { nodeWrtc, releaseWrtc } from './node/wrtc.ts';
import { RoomMember } from './room-member.ts';

after(() => releaseWrtc('node-datachannel'));

const STEPS = 4;
const PARAMS = { workers: '3', steps: String(STEPS), batchSize: '8', evalSize: '10', evalEvery: '100' };
/** Three failed epochs of 20 s, the honest members' start and their steps, on a busy machine. */
const WAIT_MS = 150_000;

function honest(url: string): RoomMember {
  return new RoomMember(
    {
      room: 'silent',
      signalingUrl: url,
      params: PARAMS,
      startBackend: async () => {
        await tf.setBackend('cpu');
        return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
      },
      task: builtinTasks(() => Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) })),
      wrtc: nodeWrtc,
    },
    () => undefined,
  );
}

test('a member that never connects is evicted by the honest members\' votes, those cut short by the next epoch included; they then finish', { timeout: WAIT_MS + 30_000 }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  const members = [honest(server.url), honest(server.url), honest(server.url)];
  const silent = io(server.url, { transports: ['websocket'], reconnection: false, forceNew: true });
  t.after(async () => {
    silent.disconnect();
    await Promise.all(members.map((m) => m.close()));
    await server.close();
  });
  const self: { id?: string } = {};
  let evicted = false;
  const epochs: number[] = [];
  // Blames an honest member at the start of every epoch, as a hostile member would.
  silent.on('room:members', (e: { epoch: number; members: string[] }) => {
    epochs.push(e.epoch);
    const victim = e.members.find((id) => id !== self.id);
    if (self.id !== undefined && victim !== undefined) silent.emit('room:resync', { epoch: e.epoch, suspect: victim }, () => undefined);
  });
  silent.on('room:evicted', () => void (evicted = true));
  const runs = members.map((m) => m.start());
  const answer = (await silent.timeout(10_000).emitWithAck('room:join', { room: 'silent', config: PARAMS })) as { ok: boolean; data: { peerId: string } };
  assert.ok(answer.ok);
  self.id = answer.data.peerId;

  const deadline = Date.now() + WAIT_MS;
  while (members.some((m) => m.status().state !== 'done' && m.status().state !== 'error') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  const statuses = members.map((m) => m.status());
  t.diagnostic(`silent member evicted: ${evicted}; epochs it saw: ${epochs.join(', ')}; honest: ${JSON.stringify(statuses.map((s) => ({ state: s.state, step: s.step, epoch: s.epoch })))}`);
  assert.equal(evicted, true, 'the silent member was evicted');
  for (const s of statuses) {
    assert.equal(s.state, 'done', s.error ?? '');
    assert.equal(s.step, STEPS);
    assert.equal(s.weightsHash, statuses[0]!.weightsHash, 'identical replicas');
    assert.deepEqual(s.events.filter((e) => e.kind === 'evicted'), [], 'no honest member evicted');
    assert.ok(s.events.some((e) => e.kind === 'step-aborted' && /no channel to /.test(e.message)), 'it named the silent member');
  }
  await Promise.all(members.map((m) => m.close()));
  await Promise.all(runs);
});
