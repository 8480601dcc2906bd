/**
 * SignalingClient in Node against a real signaling server on a free port: the server's errors
 * arrive as the named errors of shared/src/errors.ts; across a restart of the server on the same
 * port it reconnects, says so, and re-registers its room under its peer id.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { listenSignalingServer, Tickets, type SignalingOptions } from '@tabswarm/signaling-server';
import { RoomFullError, TabswarmError, TicketError } from '@tabswarm/shared/protocol';
import { SignalingClient, type SignalingHandlers } from './signaling.ts';

const LIMIT = { timeout: 15_000 };
const quiet = { info() {}, error() {} };

/** A server on an ephemeral port; it and every client made by `connect` are closed after the test. */
async function serve(t: TestContext, options: SignalingOptions = {}): Promise<{ connect(handlers?: Partial<SignalingHandlers>): SignalingClient }> {
  const server = await listenSignalingServer({ log: quiet, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), ...options });
  const { url } = server;
  const clients: SignalingClient[] = [];
  t.after(async () => {
    for (const client of clients) client.close();
    await server.close();
  });
  return {
    connect(handlers = {}) {
      const client = new SignalingClient(url, {
        onMembers() {},
        onSignal() {},
        onError() {},
        onEvicted() {},
        onReconnected() {},
        ...handlers,
      });
      clients.push(client);
      return client;
    },
  };
}

test('join resolves with the membership', LIMIT, async (t) => {
  const { connect } = await serve(t);
  const joined = await connect().join('room-a', { steps: 7 });
  assert.equal(joined.room, 'room-a');
  assert.equal(joined.epoch, 1);
  assert.equal(joined.config.steps, 7);
  assert.deepEqual(joined.members, [joined.peerId]);
  assert.match(joined.token, /^[0-9a-f]{32}$/);
});

/** Waits (polling, with a deadline) until `check` holds. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - started > ms) assert.fail(`${what}: not within ${ms} ms`);
  }
}

test('a client the server hung up on for idling outside a room (an evicted member waiting) connects again to join', LIMIT, async (t) => {
  const { connect } = await serve(t, { joinWithinMs: 200 });
  const drops: string[] = [];
  const client = connect({ onDisconnected: (reason) => void drops.push(reason) });
  await until(() => drops.length > 0, 'the idle hang-up');
  assert.deepEqual(drops, ['io server disconnect']);
  const joined = await client.join('room-a', {});
  assert.deepEqual(joined.members, [joined.peerId]);
});

test('across a server restart on the same port: reconnecting, nothing queued for the server, then the room re-registered under the same id', { timeout: 30_000 }, async (t) => {
  const options = { log: quiet, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), rebuildWindowMs: 200 };
  let server = await listenSignalingServer(options);
  const { port } = server;
  const seen: string[] = [];
  const client = new SignalingClient(server.url, {
    onMembers() {}, onSignal() {}, onError() {}, onEvicted() {},
    onDisconnected: () => seen.push('disconnected'),
    onReconnected: () => seen.push('reconnected'),
  });
  t.after(async () => {
    client.close();
    await server.close();
  });
  assert.equal(client.status.state, 'connecting');
  const joined = await client.join('restart', { steps: 9 });
  assert.equal(client.status.state, 'connected');

  await server.close();
  await until(() => client.status.state === 'reconnecting', 'reconnecting');
  const lostAt = client.status.since!;
  assert.ok(Date.now() - lostAt < 5000);
  assert.equal(client.relay(joined.peerId, { sdp: 'x' }), false, 'relays are dropped while the server is away');
  assert.equal(client.resync(joined.epoch), false, 'so are resync requests');

  server = await listenSignalingServer({ ...options, port });
  await until(() => client.status.state === 'connected', 'connected again');
  assert.deepEqual(seen, ['disconnected', 'reconnected']);
  assert.deepEqual(server.signaling.rooms(), [], 'the restarted server knows nothing');
  const back = await client.rejoin({ room: 'restart', peerId: joined.peerId, token: joined.token, config: { ...joined.config }, epoch: joined.epoch, members: joined.members, step: 4, hash: 'h' });
  assert.equal(back.peerId, joined.peerId);
  assert.equal(back.epoch, joined.epoch, 'nothing changed: the epoch is kept');
  assert.equal(back.config.steps, 9);
  assert.equal(back.adopt, false);
  assert.deepEqual(server.signaling.rooms().map((r) => r.members), [[joined.peerId]]);
  assert.equal(client.resync(back.epoch), true);
});

test('a rejoin waiting for a rebuild stops waiting when the connection drops', LIMIT, async (t) => {
  const options = { log: quiet, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), rebuildWindowMs: 10_000 };
  const server = await listenSignalingServer(options);
  const client = new SignalingClient(server.url, { onMembers() {}, onSignal() {}, onError() {}, onEvicted() {}, onReconnected() {} });
  t.after(async () => {
    client.close();
    await server.close();
  });
  await until(() => client.connected, 'connected');
  // Another member is listed and never comes: the server would wait 10 s.
  const pending = client.rejoin({ room: 'r', peerId: 'a', token: 't', config: {}, epoch: 3, members: ['a', 'b'], step: 1, hash: 'h' });
  const started = Date.now();
  await new Promise((r) => setTimeout(r, 100));
  await server.close();
  await assert.rejects(pending, { name: 'AbortedError', message: /connection was lost/ });
  assert.ok(Date.now() - started < 2000);
});

test('a full room rejects the join with RoomFullError', LIMIT, async (t) => {
  const { connect } = await serve(t, { maxMembersPerRoom: 1 });
  await connect().join('solo', {});
  const refused = connect().join('solo', {});
  await assert.rejects(refused, { name: 'RoomFullError', message: /1 members already/ });
  await assert.rejects(refused, (err: unknown) => err instanceof RoomFullError && err instanceof TabswarmError);
});

test('too many rooms and a bad config are named too', LIMIT, async (t) => {
  const { connect } = await serve(t, { maxRooms: 1 });
  await assert.rejects(connect().join('first', { compressor: 'zip' }), { name: 'ConfigError', message: /compressor/ });
  await connect().join('first', {});
  await assert.rejects(connect().join('second', {}), { name: 'TooManyRoomsError' });
});

test('join gives up with TimeoutError when nobody answers, and with the reason of its signal', LIMIT, async (t) => {
  // A server that accepts connections and never says a word: the websocket handshake hangs.
  const silent = createNetServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
  const connections = new Set<Socket>();
  silent.on('connection', (socket) => connections.add(socket));
  t.after(() => {
    for (const socket of connections) socket.destroy();
    silent.close();
  });
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const client = new SignalingClient(url, { onMembers() {}, onSignal() {}, onError() {}, onEvicted() {}, onReconnected() {} });
  try {
    await assert.rejects(client.join('nowhere', {}, { timeoutMs: 50 }), { name: 'TimeoutError', message: /joining room nowhere/ });
    const controller = new AbortController();
    const pending = client.join('nowhere', {}, { signal: controller.signal });
    controller.abort(new RoomFullError('stand-in reason'));
    await assert.rejects(pending, { name: 'RoomFullError', message: 'stand-in reason' });
  } finally {
    client.close();
    client.close(); // twice: nothing happens
  }
});

test('a closed room: the invite\'s ticket lets the client in, no ticket is a TicketError; the answer carries the cost', LIMIT, async (t) => {
  const key = 'client test key, sixteen bytes at least';
  const { connect } = await serve(t, { ticketKey: key });
  const ticket = new Tickets(key).issue('closed', Date.now() + 60_000);
  const joined = await connect().join('closed', {}, { ticket });
  assert.equal(joined.cost.heavy, false);
  assert.ok(joined.cost.mflopsPerStep > 0);
  await assert.rejects(connect().join('closed', {}), (err: Error) => err instanceof TicketError);
});
