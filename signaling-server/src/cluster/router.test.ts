/**
 * The router alone, with leases and the other processes stood in for: a tab's events go to the
 * owner it registered with, and only a join or a rejoin may claim its room. A tab whose room moved
 * registers again instead of being handed to an owner that does not know it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ack } from '@tabswarm/shared/protocol';
import type { Connection } from '../connection.ts';
import { silent } from '../testing.ts';
import type { Leases } from './leases.ts';
import type { ClusterServer, Forward } from './messages.ts';
import { Router } from './router.ts';

type Middleware = (packet: unknown[], next: (err?: Error) => void) => void;

/** This process is `b`; the room's key is held by whoever `holders` says, and a claim takes a free key. */
function setup() {
  const holders = new Map<string, string>();
  const claims: string[] = [];
  const leases = {
    me: 'b',
    async owner(room: string) {
      if (!holders.has(room)) {
        claims.push(room);
        holders.set(room, 'b');
      }
      return holders.get(room)!;
    },
    async holder(room: string) {
      return holders.get(room);
    },
    holds: (room: string) => holders.get(room) === 'b',
  } as unknown as Leases;
  const forwarded: Forward[] = [];
  const io = { serverSideEmit: (_event: string, message: Forward) => forwarded.push(message) } as unknown as ClusterServer;
  const router = new Router(io, leases, silent, { answerWithinMs: 5000, lostAfterMs: 1000, forwarded() {}, closing: () => false, ownerLost() {} });
  let middleware: Middleware | undefined;
  const socket = {
    id: 'tab',
    connected: true,
    closed: 0,
    use(fn: Middleware) { middleware = fn; },
    on() {},
    conn: { close() { socket.closed += 1; } },
  };
  const conn = { socket, address: '127.0.0.1', leave() {}, handedOver() {} } as unknown as Connection;
  router.attach(conn);
  const handledHere: string[] = [];
  /** The tab sends `event`; resolves with its ack's answer, if any came, once the router is done. */
  async function send(event: string, payload: unknown): Promise<Ack<unknown> | undefined> {
    let answer: Ack<unknown> | undefined;
    middleware!([event, payload, (result: Ack<unknown>) => { answer = result; }], () => handledHere.push(event));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    return answer;
  }
  /** The owner answers the last forwarded event. */
  function answered(): void {
    router.answer({ to: 'b', call: forwarded.at(-1)!.call!, result: { ok: true, data: null } });
  }
  return { holders, claims, forwarded, socket, router, handledHere, send, answered };
}

test('a tab\'s ordinary event never claims its room: with its owner\'s key missing it is answered unavailable, and nothing moves', async () => {
  const s = setup();
  s.holders.set('r', 'a');
  await s.send('room:rejoin', { room: 'r' });
  assert.deepEqual(s.forwarded.map((f) => [f.to, f.event]), [['a', 'room:rejoin']]);
  s.holders.delete('r');
  const answer = await s.send('room:resync', { epoch: 3 });
  assert.deepEqual(answer, { ok: false, error: { name: 'InternalError', message: 'the room service is unavailable; try again' } });
  assert.deepEqual(s.claims, [], 'the key stays free for the tabs that register');
  assert.equal(s.forwarded.length, 1);
  assert.deepEqual(s.handledHere, []);
  assert.equal(s.socket.closed, 0);
  // Its owner renews the key: the tab's events go there again.
  s.holders.set('r', 'a');
  await s.send('signal:relay', { to: 'x', data: {} });
  assert.deepEqual(s.forwarded.map((f) => [f.to, f.event]), [['a', 'room:rejoin'], ['a', 'signal:relay']]);
});

test('a tab whose room moved to another process registers again: its event goes nowhere, its transport closes', async () => {
  const s = setup();
  s.holders.set('r', 'a');
  await s.send('room:rejoin', { room: 'r' });
  s.answered();
  // Another process claimed the room (through the registration of another tab): this tab is no member there.
  s.holders.set('r', 'c');
  await s.send('room:resync', { epoch: 3 });
  assert.equal(s.socket.closed, 1);
  assert.deepEqual(s.forwarded.map((f) => f.event), ['room:rejoin']);
  // It registers again (here, on its next connection): the rejoin goes to the new owner.
  await s.send('room:rejoin', { room: 'r' });
  assert.deepEqual(s.forwarded.map((f) => [f.to, f.event]), [['a', 'room:rejoin'], ['c', 'room:rejoin']]);
  // The room freed and claimed here by a registration: the tab's events are handled here.
  s.holders.delete('r');
  await s.send('room:rejoin', { room: 'r' });
  assert.deepEqual(s.claims, ['r']);
  await s.send('signal:relay', { to: 'x', data: {} });
  assert.deepEqual(s.handledHere, ['room:rejoin', 'signal:relay']);
});

test('a process declared gone makes its tabs that forward elsewhere register again', async () => {
  const s = setup();
  s.holders.set('r', 'a');
  await s.send('room:rejoin', { room: 'r' });
  // A rejoin still unanswered is routed again (to whoever owns the room now) rather than the tab hung up.
  s.router.declaredGone();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.forwarded.map((f) => [f.to, f.event]), [['a', 'room:rejoin'], ['a', 'room:rejoin']]);
  assert.equal(s.socket.closed, 0);
  s.answered();
  s.router.declaredGone();
  assert.equal(s.socket.closed, 1);
});
