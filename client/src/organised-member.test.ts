/**
 * A room member in an organiser's room, against a real server in this process: it asks before its
 * backend starts or its data loads, trains the organiser's configuration whatever it proposed, a
 * no leaves it out with nothing started, and the organiser's removal ends it for good (no rejoin).
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { listenSignalingServer, type SignalingServer } from '@tabswarm/signaling-server';
import { builtinTasks } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import { ORGANISE_API, type TabStatus } from '@tabswarm/shared/protocol';
import type { ConsentRequest } from './consent.ts';
import { RoomMember } from './room-member.ts';

const WAIT_MS = 10_000;
const LIMIT = { timeout: 30_000 };
const TOKEN = 'member-test-admin-token';
/** The organiser's room: waits for a second member that never comes, so the member stays joined. */
const ROOM = { room: 'lab', config: { workers: '2', steps: '3', batchSize: '8', evalSize: '10', rank: '2', compressor: 'powersgd' } };

async function serve(t: TestContext, openRooms = true): Promise<{ url: string; server: SignalingServer }> {
  const listening = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), adminToken: TOKEN, rooms: [ROOM], openRooms });
  t.after(() => listening.close());
  return { url: listening.url, server: listening.signaling };
}

/** A member proposing other keys; `steps` records what happened in which order. */
function member(url: string, answer: ((request: ConsentRequest) => Promise<boolean>) | undefined, room = 'lab'): { member: RoomMember; steps: string[]; until(check: (s: TabStatus) => boolean, what: string): Promise<TabStatus> } {
  const steps: string[] = [];
  const waiters = new Set<() => void>();
  const m = new RoomMember({
    room,
    signalingUrl: url,
    params: { model: 'cnn', compressor: 'none', steps: '99' },
    startBackend: async () => {
      steps.push('backend');
      await tf.setBackend('cpu');
      return { requested: 'cpu', active: tf.getBackend(), fallbackReason: null };
    },
    task: builtinTasks(() => {
      steps.push('data');
      return Promise.resolve({ train: quadrantImages(64, 8, 1), test: quadrantImages(16, 8, 2) });
    }),
    ...(answer ? {
      askConsent: (request: ConsentRequest) => {
        steps.push('asked');
        return answer(request);
      },
    } : {}),
  }, () => {
    for (const wake of waiters) wake();
  });
  return {
    member: m,
    steps,
    until: (check, what) => new Promise((resolve, reject) => {
      const wake = (): void => {
        const s = m.status();
        if (!check(s)) return;
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(s);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`${what}: not within ${WAIT_MS} ms; status ${JSON.stringify({ state: m.status().state, error: m.status().error, left: m.status().left })}`));
      }, WAIT_MS);
      waiters.add(wake);
      wake();
    }),
  };
}

test('asked before the backend and the data; joins with the organiser\'s configuration; removed by the organiser it stays out', LIMIT, async (t) => {
  const { url, server } = await serve(t);
  let request: ConsentRequest | undefined;
  const { member: m, steps, until } = member(url, (r) => {
    request = r;
    return Promise.resolve(true);
  });
  t.after(() => m.close());
  void m.start();
  const joined = await until((s) => s.peerId !== null && s.epoch === 1, 'joined');
  assert.deepEqual(steps, ['asked', 'backend', 'data'], 'nothing heavy before the answer');
  assert.equal(request?.offer.organised, true);
  assert.deepEqual(request?.reasons, ['an organiser runs this room']);
  assert.equal(joined.organised, true);
  assert.equal(joined.config?.model, 'mlp');
  assert.equal(joined.config?.compressor, 'powersgd');
  assert.deepEqual(joined.ignoredKeys, ['model', 'steps', 'compressor']);
  assert.equal(joined.consent?.state, 'given');

  const removed = await fetch(`${url}${ORGANISE_API.remove}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`o:${TOKEN}`).toString('base64')}` },
    body: JSON.stringify({ room: 'lab', peerId: joined.peerId }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  assert.equal(removed.status, 200);
  const out = await until((s) => s.state === 'left', 'out of the room');
  assert.equal(out.left, 'removed from room lab by its organiser');
  assert.equal(out.error, null);
  // An eviction by the room would join again after 3 s; the organiser's does not.
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  assert.deepEqual(server.rooms().map((r) => r.members), [[]]);
  assert.equal(m.status().signaling.state, 'closed');
});

test('a no before joining starts nothing and joins nothing', LIMIT, async (t) => {
  const { url, server } = await serve(t);
  const { member: m, steps, until } = member(url, () => Promise.resolve(false));
  await m.start();
  const out = await until((s) => s.state === 'left', 'declined');
  assert.deepEqual(steps, ['asked']);
  assert.equal(out.left, 'declined to join room lab');
  assert.equal(out.consent?.state, 'declined');
  assert.equal(out.backend, null);
  assert.equal(out.data, null);
  assert.deepEqual(server.rooms().map((r) => r.members), [[]]);
});

test('with --open-rooms false another room is an UnknownRoomError the member shows, asked or not', LIMIT, async (t) => {
  const { url, server } = await serve(t, false);
  for (const answer of [() => Promise.resolve(true), undefined]) {
    const { member: m, steps, until } = member(url, answer, 'elsewhere');
    t.after(() => m.close());
    void m.start();
    const failed = await until((s) => s.state === 'error', 'refused');
    assert.match(failed.error ?? '', /^UnknownRoomError: room elsewhere does not exist, and this server opens only its organiser's rooms$/);
    // Asked: refused at the preview, before anything heavy; not asked (a Node worker): at the join.
    assert.deepEqual(steps, answer ? [] : ['backend', 'data']);
  }
  assert.deepEqual(server.rooms().map((r) => r.room), ['lab']);
});
