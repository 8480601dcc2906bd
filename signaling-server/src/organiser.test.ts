/** The organiser page's API over a real server: the admin token, members' progress reports, rooms made and members removed. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ORGANISE_API, parseRunConfig, type EvictedEvent, type MembersEvent, type OrganiserRoom, type OrganiserRooms } from '@tabswarm/shared/protocol';
import { AdminToken } from './admin-token.ts';
import { Tickets } from './tickets.ts';
import { listenSignalingServer } from './listen.ts';
import { errorOf, harness, joined, LIMIT, next, rawAck, silent } from './testing.ts';

const TOKEN = 'organiser-token-0123456789';
const KEY = 'a ticket key of enough bytes';

function auth(password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`organiser:${password}`).toString('base64')}` };
}

async function api(url: string, path: string, init: { password?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown; type: string | null }> {
  const headers: Record<string, string> = { ...(init.password === undefined ? {} : auth(init.password)), ...init.headers };
  const response = await fetch(`${url}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: init.body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(2000),
  });
  const text = await response.text();
  const type = response.headers.get('content-type');
  return { status: response.status, type, body: type?.startsWith('application/json') ? JSON.parse(text) as unknown : text };
}

test('the admin token: compared in constant time, too short refused', () => {
  const token = new AdminToken(TOKEN);
  assert.equal(token.matches(TOKEN), true);
  assert.equal(token.matches(`${TOKEN}x`), false);
  assert.equal(token.matches(''), false);
  assert.throws(() => new AdminToken('short'), { name: 'ConfigError' });
});

test('without the token: 401 and nothing listed; without an admin token: no organiser page at all', LIMIT, async (t) => {
  const pages = mkdtempSync(join(tmpdir(), 'tabswarm-organise-'));
  writeFileSync(join(pages, 'organise.html'), '<title>organise</title>');
  const h = await harness(t, { adminToken: TOKEN, staticDir: pages, rooms: [{ room: 'secret-room' }] });
  for (const path of ['/organise', '/organise.html', ORGANISE_API.rooms, `${ORGANISE_API.qr}?room=secret-room`]) {
    for (const password of [undefined, 'wrong-token-0123456789', '']) {
      const answer = await api(h.url, path, password === undefined ? {} : { password });
      assert.equal(answer.status, 401, `${path} with ${String(password)}`);
      assert.doesNotMatch(String(answer.body), /secret-room/);
    }
  }
  const created = await api(h.url, ORGANISE_API.rooms, { body: { room: 'x', config: {} } });
  assert.equal(created.status, 401);
  assert.deepEqual(h.signaling.rooms().map((r) => r.room), ['secret-room'], 'nothing made without the token');

  const page = await api(h.url, '/organise', { password: TOKEN });
  assert.equal(page.status, 200);
  assert.equal(page.body, '<title>organise</title>');

  const closed = await harness(t);
  assert.equal((await api(closed.url, ORGANISE_API.rooms, { password: TOKEN })).status, 404);
});

test('members report progress (validated, rate-limited); the organiser lists it per room', LIMIT, async (t) => {
  const h = await harness(t, { adminToken: TOKEN });
  const [tabA, tabB] = [await h.connect(), await h.connect()];
  const a = await joined(tabA, 'lab');
  const b = await joined(tabB, 'lab');
  assert.equal(errorOf(await rawAck(await h.connect(), 'room:report', { kind: 'progress', step: 1, accuracy: null, stepsPerSecond: null, bytesPerStep: 0, backend: null })).name, 'NotInRoomError');
  for (const bad of [
    { kind: 'progress', step: -1, accuracy: null, stepsPerSecond: null, bytesPerStep: 0, backend: null },
    { kind: 'progress', step: 1, accuracy: 1.5, stepsPerSecond: null, bytesPerStep: 0, backend: null },
    { kind: 'progress', step: 1, accuracy: null, stepsPerSecond: null, bytesPerStep: 0, backend: 'x'.repeat(33) },
    { kind: 'progress', step: 1, accuracy: null, stepsPerSecond: null, bytesPerStep: 0.5, backend: null },
    { kind: 'weights', values: [1, 2, 3] },
  ]) {
    const refused = errorOf(await rawAck(tabA, 'room:report', bad));
    assert.equal(refused.name, 'ValidationError', JSON.stringify(bad));
    assert.match(refused.message, /^room:report: /);
  }
  const report = { kind: 'progress', step: 12, accuracy: 0.81, stepsPerSecond: 2.5, bytesPerStep: 1_085_784, backend: 'webgl', weights: [1, 2] };
  assert.ok((await rawAck(tabA, 'room:report', report)).ok);
  assert.ok((await rawAck(tabB, 'room:report', { ...report, step: 10, accuracy: 0.7, stepsPerSecond: 1.5, bytesPerStep: 1_000_000 })).ok);
  // Three at once is the burst; one more within two seconds is over the budget.
  assert.ok((await rawAck(tabA, 'room:report', report)).ok);
  assert.ok((await rawAck(tabA, 'room:report', report)).ok);
  assert.equal(errorOf(await rawAck(tabA, 'room:report', report)).name, 'RateLimitError');

  const { rooms } = (await api(h.url, ORGANISE_API.rooms, { password: TOKEN })).body as OrganiserRooms;
  assert.equal(rooms.length, 1);
  const lab = rooms[0]!;
  assert.equal(lab.organised, false);
  assert.deepEqual(lab.members.map((m) => m.peerId), [a.peerId, b.peerId].sort());
  assert.deepEqual(lab.members.find((m) => m.peerId === a.peerId)?.progress, { step: 12, accuracy: 0.81, stepsPerSecond: 2.5, bytesPerStep: 1_085_784, backend: 'webgl' }, 'only the report fields are kept');
  assert.equal(lab.step, 12);
  assert.equal(lab.accuracy, 0.81);
  assert.equal(lab.stepsPerSecond, 2);
  assert.equal(lab.bytesPerStep, (1_085_784 + 1_000_000) / 2);
  assert.match(lab.invite, /^http:\/\/127\.0\.0\.1:\d+\/\?room=lab$/);
});

test('the organiser makes a room with a form, gets its invite and QR code (with a ticket on a closed server), and removes a member', LIMIT, async (t) => {
  const h = await harness(t, { adminToken: TOKEN, ticketKey: KEY });
  const made = await api(h.url, ORGANISE_API.rooms, { password: TOKEN, body: { room: 'class', config: { model: 'mlp', compressor: 'powersgd', rank: '2' } } });
  assert.equal(made.status, 201);
  const room = made.body as OrganiserRoom;
  assert.equal(room.organised, true);
  assert.equal(room.config.compressor, 'powersgd');
  assert.equal(room.config.rank, 2);
  const ticket = new URL(room.invite).searchParams.get('ticket');
  assert.ok(ticket);
  assert.doesNotThrow(() => new Tickets(KEY).check('class', ticket));
  assert.equal(new URL(room.invite).searchParams.get('task'), null, 'a built-in task: no task key');
  // A room of an example task: its invite names it, since a tab picks that task by its URL.
  const spirals = (await api(h.url, ORGANISE_API.rooms, { password: TOKEN, body: { room: 'spirals-class', config: { task: 'spirals' } } })).body as OrganiserRoom;
  assert.equal(new URL(spirals.invite).searchParams.get('task'), 'spirals');

  const bad = await api(h.url, ORGANISE_API.rooms, { password: TOKEN, body: { room: 'other', config: { compressor: 'zip' } } });
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { error: { name: string } }).error.name, 'ConfigError');
  const twice = await api(h.url, ORGANISE_API.rooms, { password: TOKEN, body: { room: 'class', config: {} } });
  assert.match((twice.body as { error: { message: string } }).error.message, /exists already/);
  const foreign = await api(h.url, ORGANISE_API.rooms, { password: TOKEN, body: { room: 'csrf', config: {} }, headers: { origin: 'https://evil.example' } });
  assert.equal(foreign.status, 400, 'a write from a page of another origin');

  const qr = await api(h.url, `${ORGANISE_API.qr}?room=class`, { password: TOKEN });
  assert.equal(qr.status, 200);
  assert.equal(qr.type, 'image/svg+xml');
  assert.match(String(qr.body), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);

  const [tabA, tabB] = [await h.connect(), await h.connect()];
  const a = await member(tabA, 'class', ticket);
  const b = await member(tabB, 'class', ticket);
  const evicted = next<EvictedEvent>(tabB, 'room:evicted');
  const left = next<MembersEvent>(tabA, 'room:members', (e) => e.members.length === 1);
  const removed = await api(h.url, ORGANISE_API.remove, { password: TOKEN, body: { room: 'class', peerId: b } });
  assert.equal(removed.status, 200);
  assert.deepEqual(await evicted, { room: 'class', reason: 'removed by the organiser', by: 'organiser' });
  assert.deepEqual((await left).members, [a]);
  const again = await api(h.url, ORGANISE_API.remove, { password: TOKEN, body: { room: 'class', peerId: b } });
  assert.equal(again.status, 404);
  assert.equal((again.body as { error: { name: string } }).error.name, 'NotInRoomError');
});

async function member(tab: Awaited<ReturnType<Awaited<ReturnType<typeof harness>>['connect']>>, room: string, ticket: string): Promise<string> {
  const answer = await rawAck(tab, 'room:join', { room, ticket });
  assert.ok(answer.ok, JSON.stringify(answer));
  return (answer.data as { peerId: string }).peerId;
}

test('with --rooms-file, the rooms made on the page outlive a restart: their names and configurations, not their members', LIMIT, async (t) => {
  const roomsFile = join(mkdtempSync(join(tmpdir(), 'tabswarm-rooms-')), 'rooms.json');
  const options = { log: silent, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), adminToken: TOKEN, roomsFile, rooms: [{ room: 'from-flag', config: { steps: 9 } }] };
  const first = await listenSignalingServer(options);
  let made: OrganiserRoom[];
  try {
    made = await Promise.all(['lab', 'class.b'].map(async (room, i) => {
      const created = await api(first.url, ORGANISE_API.rooms, { password: TOKEN, body: { room, config: { model: 'cnn', steps: String(300 + i) } } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body as OrganiserRoom;
    }));
  } finally {
    await first.close();
  }
  const kept = (JSON.parse(readFileSync(roomsFile, 'utf8')) as { rooms: unknown[] }).rooms;
  assert.deepEqual(kept, made.map((r) => ({ room: r.room, config: r.config })), 'the page\'s rooms only, by name and whole configuration');

  // Restarted with other defaults: the rooms come back as the organiser made them, empty and organised.
  const h = await harness(t, { ...options, defaultConfig: parseRunConfig({ steps: 77, batchSize: 16 }) });
  const rooms = h.signaling.rooms();
  assert.deepEqual(rooms.map((r) => r.room).sort(), ['class.b', 'from-flag', 'lab']);
  for (const before of made) {
    assert.deepEqual(rooms.find((r) => r.room === before.room), { room: before.room, epoch: 0, members: [], config: before.config, organised: true });
  }
  const member = await joined(await h.connect(), 'lab', { model: 'mlp', steps: 5 });
  assert.deepEqual([member.organised, member.config.model, member.config.steps, member.config.batchSize], [true, 'cnn', 300, made[0]!.config.batchSize]);
});

test('a rooms file that is not ours stops the start with a ConfigError', async () => {
  const roomsFile = join(mkdtempSync(join(tmpdir(), 'tabswarm-rooms-')), 'rooms.json');
  const options = { log: silent, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), roomsFile };
  writeFileSync(roomsFile, '{ "rooms": [{ "room": "x" }] }');
  await assert.rejects(listenSignalingServer(options), { name: 'ConfigError', message: /holds no list of rooms/ });
  writeFileSync(roomsFile, 'not json');
  await assert.rejects(listenSignalingServer(options), { name: 'ConfigError', message: /is not JSON/ });
});
