/**
 * SignalingClient in Node against a real signaling server on a free port: the server's errors
 * arrive as the named errors of shared/src/errors.ts.
 */
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { listenSignalingServer, type SignalingOptions } from '@tabswarm/signaling-server';
import { RoomFullError, TabswarmError } from '@tabswarm/shared/protocol';
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
