/**
 * A finished room in Node, over real WebRTC (node-datachannel) and a real signaling server: a tab
 * opening it follows it (an observer) and holds the members' final state; its export equals a
 * member's; once every member has left, a new one is told nobody holds the model.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { builtinTasks } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { nodeWrtc, releaseWrtc } from './node/wrtc.ts';
import { RoomMember } from './room-member.ts';

const WAIT_MS = 45_000;
const PARAMS = { workers: '2', steps: '4', batchSize: '8', evalSize: '16', evalEvery: '2' };

test.after(() => releaseWrtc('node-datachannel'));

function member(url: string, room: string): RoomMember {
  return new RoomMember({
    room, signalingUrl: url, params: PARAMS, wrtc: nodeWrtc,
    startBackend: async () => {
      await tf.setBackend('cpu');
      return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
    },
    task: builtinTasks(() => Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) })),
  }, () => undefined);
}

async function until(m: RoomMember, check: (s: TabStatus) => boolean, what: string): Promise<TabStatus> {
  for (const began = Date.now(); ; await new Promise((r) => setTimeout(r, 20))) {
    const s = m.status();
    if (check(s)) return s;
    if (Date.now() - began > WAIT_MS) assert.fail(`${what}: not within ${WAIT_MS} ms (${s.state}, step ${s.step}, ${s.error ?? ''}) ${JSON.stringify(s.events.map((e) => e.message))} ${JSON.stringify(s.connectedPeers)}`);
  }
}

test('a finished room: the next tab holds its final state, exports the same model, and hears when nobody holds it', { timeout: 120_000 }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  t.after(() => server.close());
  const members = [member(server.url, 'over'), member(server.url, 'over')];
  t.after(() => Promise.all(members.map((m) => m.close())));
  members.forEach((m) => void m.start());
  const done = await Promise.all(members.map((m) => until(m, (s) => s.state === 'done' && s.finished !== null, 'members finish')));
  const final = { step: 4, weightsHash: done[0]!.weightsHash, testAccuracy: done[0]!.testAccuracy };
  assert.deepEqual(done[0]!.finished, { step: 4, hash: final.weightsHash, testAccuracy: final.testAccuracy });

  const late = member(server.url, 'over');
  t.after(() => late.close());
  void late.start();
  const shown = await until(late, (s) => s.state !== 'connecting', 'the late tab shows the run');
  assert.equal(shown.state, 'done', shown.error ?? '');
  assert.equal(shown.role, 'observer');
  assert.deepEqual({ step: shown.step, weightsHash: shown.weightsHash, testAccuracy: shown.testAccuracy }, final);
  assert.equal(server.signaling.rooms().find((r) => r.room === 'over')?.members.length, 2, 'the late tab is no member');
  const [fromMember, fromLate] = await Promise.all([members[0]!.exportModel(), late.exportModel()]);
  assert.deepEqual(new Uint8Array(fromLate.files.weightData), new Uint8Array(fromMember.files.weightData));
  assert.equal(fromLate.weightsHash, final.weightsHash);

  await Promise.all([...members, late].map((m) => m.close()));
  const orphan = member(server.url, 'over');
  t.after(() => orphan.close());
  void orphan.start();
  const unheld = await until(orphan, (s) => s.state === 'error', 'nobody holds it');
  assert.match(unheld.error!, /^ModelUnavailableError: the run finished at step 4 \(weights [0-9a-f]{16}, test accuracy [0-9.]+ %\); nobody in the room holds its model any more$/);
  await assert.rejects(orphan.exportModel(), { name: 'ModelExportError', message: 'this tab holds no model yet' });
});
