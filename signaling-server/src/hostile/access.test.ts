/**
 * Hostile row: "a WebSocket with a foreign Origin: accepted". Now only the server's own pages (or
 * the --allowed-origin list) may connect from a browser, and a server with a ticket key lets
 * nobody into a room without that room's ticket: no membership, no config, no member list.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MembersEvent } from '@tabswarm/shared/protocol';
import { errorOf, joined, LIMIT, record, sleep, tryJoin, tryRejoin } from '../testing.ts';
import { Tickets } from '../tickets.ts';
import { arena, ATTACKER, HONEST } from './kit.ts';

test('a WebSocket with a foreign Origin is refused at the handshake; the server\'s own origin and programs without one are not', LIMIT, async (t) => {
  const h = await arena(t);
  await assert.rejects(h.from(ATTACKER, { origin: 'https://evil.example' }));
  await assert.rejects(h.from(ATTACKER, { origin: 'null' }));
  const own = new URL(h.url).origin;
  await joined(await h.from(HONEST[0], { origin: own }), 'same-origin');
  await joined(await h.from(HONEST[1]), 'no-origin');
});

test('--allowed-origin lists the pages that may connect', LIMIT, async (t) => {
  const h = await arena(t, { allowedOrigins: ['https://tabs.example.org'] });
  await joined(await h.from(HONEST[0], { origin: 'https://tabs.example.org' }), 'listed');
  await assert.rejects(h.from(ATTACKER, { origin: 'https://tabs.example.org.evil.example' }));
  await assert.rejects(h.from(ATTACKER, { origin: new URL(h.url).origin }), 'with a list, only the list');
});

const KEY = 'a test key of more than sixteen bytes';

test('with a ticket key, no join without the room\'s ticket: no membership, no config, no member list', LIMIT, async (t) => {
  const h = await arena(t, { ticketKey: KEY });
  const tickets = new Tickets(KEY);
  const ticket = tickets.issue('closed', Date.now() + 60_000);
  const member = await h.from(HONEST[0]);
  const inside = await joined(member, 'closed', { ticket } as Record<string, unknown>).catch(() => undefined);
  assert.equal(inside, undefined, 'a ticket inside the config is no ticket');
  const ok = await new Promise<{ ok: boolean }>((done) => member.emit('room:join', { room: 'closed', ticket }, done));
  assert.equal(ok.ok, true);

  const stranger = await h.from(ATTACKER);
  const heard = record<MembersEvent>(stranger, 'room:members');
  const attempts = [
    undefined,
    'garbage',
    tickets.issue('other-room', Date.now() + 60_000),
    tickets.issue('closed', Date.now() - 1000),
    new Tickets('another key of more than sixteen bytes').issue('closed', Date.now() + 60_000),
    `${Math.floor(Date.now() / 1000) + 999_999}.${ticket.split('.')[1]}`,
  ];
  for (const attempt of attempts) {
    const result = await new Promise<{ ok: boolean; error?: { name: string } }>((done) => stranger.emit('room:join', { room: 'closed', ...(attempt === undefined ? {} : { ticket: attempt }) }, done));
    assert.equal(result.ok, false, String(attempt));
    assert.equal(result.error?.name, 'TicketError');
  }
  // A rejoin claiming an unknown id is a join too.
  const claim = { room: 'closed', peerId: 'f'.repeat(32), token: 't', config: {}, epoch: 1, members: ['f'.repeat(32)], step: 0, hash: '' };
  assert.equal(errorOf(await tryRejoin(stranger, claim)).name, 'TicketError');
  await sleep(100);
  assert.deepEqual(heard, [], 'the stranger heard no member list');
  assert.equal(h.signaling.rooms()[0]!.members.length, 1);
  assert.equal(errorOf(await tryJoin(stranger, 'another-closed')).name, 'TicketError', 'every room is closed');
});
