/**
 * Two honest members train a closed room over real WebRTC (node-datachannel) while a hostile
 * client hammers the same server from another address: it cannot join the room without its
 * ticket, claims ids it does not hold, churns a room of its own, floods events and sends binary.
 * The honest members finish every step with identical weights, and nobody evicts them.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';
import { listenSignalingServer, Tickets } from '@tabswarm/signaling-server';
import { builtinTasks } from '@tabswarm/shared';
import { quadrantImages } from '@tabswarm/shared/testing';
import { nodeWrtc, releaseWrtc } from './node/wrtc.ts';
import { RoomMember } from './room-member.ts';

after(() => releaseWrtc('node-datachannel'));

const KEY = 'under-attack test key, long enough';
const STEPS = 6;
const WAIT_MS = 90_000;

function honest(url: string, ticket: string): RoomMember {
  return new RoomMember(
    {
      room: 'closed',
      signalingUrl: url,
      params: { ticket, workers: '2', steps: String(STEPS), batchSize: '8', evalSize: '10', evalEvery: '3' },
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

/** A hostile socket from another client address (the server trusts X-Forwarded-For here). */
function hostile(url: string): Socket {
  return io(url, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { 'x-forwarded-for': '203.0.113.66' } });
}

/** Emits `event` and resolves with its answer, or with undefined after a second (dropped events get none). */
function ask(socket: Socket, event: string, payload: unknown): Promise<unknown> {
  return socket.timeout(1000).emitWithAck(event, payload).catch(() => undefined);
}

test('honest members train a closed room to the end with identical weights while a hostile client attacks the server', { timeout: 2 * WAIT_MS }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), ticketKey: KEY, trustProxy: true });
  const ticket = new Tickets(KEY).issue('closed', Date.now() + 600_000);
  const members = [honest(server.url, ticket), honest(server.url, ticket)];
  const sockets: Socket[] = [];
  let attacking = true;
  t.after(async () => {
    attacking = false;
    for (const socket of sockets) socket.disconnect();
    await Promise.all(members.map((m) => m.close()));
    await server.close();
  });

  const refusals = new Map<string, number>();
  const note = (answer: unknown): void => {
    const name = (answer as { ok?: boolean; error?: { name?: string } } | undefined)?.error?.name ?? ((answer as { ok?: boolean } | undefined)?.ok ? 'ok' : 'no answer');
    refusals.set(name, (refusals.get(name) ?? 0) + 1);
  };
  const attack = (async () => {
    const own = hostile(server.url);
    sockets.push(own);
    for (let round = 0; attacking; round++) {
      if (!own.connected) await new Promise((r) => setTimeout(r, 50));
      note(await ask(own, 'room:join', { room: 'closed' }));
      note(await ask(own, 'room:rejoin', { room: 'closed', peerId: `f${round}`.padEnd(32, '0'), token: 't', config: {}, epoch: 1, members: [`f${round}`.padEnd(32, '0')], step: 999, hash: 'h' }));
      note(await ask(own, 'room:resync', { epoch: round }));
      note(await ask(own, 'signal:relay', { to: 'a'.repeat(32), data: { sdp: 'x' } }));
      if (round % 10 === 0) {
        // A binary sender is hung up on; the next round connects again.
        const binary = hostile(server.url);
        sockets.push(binary);
        binary.on('connect', () => binary.emit('room:join', { room: 'bin' }, Buffer.alloc(64 * 1024)));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  const runs = members.map((m) => m.start());
  const deadline = Date.now() + WAIT_MS;
  while (members.some((m) => m.status().state !== 'done' && m.status().state !== 'error') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  attacking = false;
  await attack;
  t.diagnostic(`hostile answers: ${JSON.stringify(Object.fromEntries(refusals))}`);
  const [a, b] = members.map((m) => m.status());
  assert.equal(a!.state, 'done', a!.error ?? '');
  assert.equal(b!.state, 'done', b!.error ?? '');
  assert.equal(a!.step, STEPS);
  assert.equal(b!.step, STEPS);
  assert.equal(a!.weightsHash, b!.weightsHash, 'identical replicas');
  assert.ok(!a!.events.some((e) => /evicted/.test(e.message)) && !b!.events.some((e) => /evicted/.test(e.message)));
  assert.equal(refusals.get('ok') ?? 0, 0, 'the hostile client got into nothing');
  assert.ok((refusals.get('TicketError') ?? 0) > 0);
  assert.deepEqual(server.signaling.rooms().map((r) => r.members.length), [2]);
  await Promise.all(members.map((m) => m.close()));
  await Promise.all(runs);
});
