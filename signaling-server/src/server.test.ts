import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { DEFAULT_CONFIG, type Ack, type ClientToServerEvents, type ErrorPayload, type JoinResult, type MembersEvent, type ServerToClientEvents } from '@tabswarm/shared/protocol';
import { createSignalingServer, type Logger, type SignalingOptions, type SignalingServer } from './server.ts';

type Tab = Socket<ServerToClientEvents, ClientToServerEvents>;
/** The same socket without the event map, to send what a misbehaving client could. */
type RawTab = Socket;

const WAIT_MS = 2000;
/** A deadline for each test as a whole, over the per-wait ones. */
const LIMIT = { timeout: 15_000 };
const silent: Logger = {
  info() {},
  error() {},
};

interface Harness {
  url: string;
  signaling: SignalingServer;
  connect(): Promise<Tab>;
}

/** A server on an ephemeral port; it and every socket it hands out are closed after the test. */
async function harness(t: TestContext, options: SignalingOptions = {}): Promise<Harness> {
  const httpServer = createServer();
  const signaling = createSignalingServer(httpServer, { log: silent, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), ...options });
  await new Promise<void>((done) => httpServer.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const sockets: Tab[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.disconnect();
    await signaling.close();
  });
  return {
    url,
    signaling,
    async connect() {
      const socket: Tab = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(socket);
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error('connect timed out')), WAIT_MS);
        socket.once('connect', () => {
          clearTimeout(timer);
          done();
        });
        socket.once('connect_error', (err) => {
          clearTimeout(timer);
          fail(err);
        });
      });
      return socket;
    },
  };
}

function raw(socket: Tab): RawTab {
  return socket;
}

/** Resolves with the next `event` satisfying `match`, or rejects after `ms`. */
function next<T>(socket: Tab, event: keyof ServerToClientEvents, match: (value: T) => boolean = () => true, ms = WAIT_MS): Promise<T> {
  const target = raw(socket);
  return new Promise<T>((done, fail) => {
    const listener = (value: T): void => {
      if (!match(value)) return;
      clearTimeout(timer);
      target.off(event, listener);
      done(value);
    };
    const timer = setTimeout(() => {
      target.off(event, listener);
      fail(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    target.on(event, listener);
  });
}

/** Events of one kind received from now on. */
function record<T>(socket: Tab, event: keyof ServerToClientEvents): T[] {
  const seen: T[] = [];
  raw(socket).on(event, (value: T) => {
    seen.push(value);
  });
  return seen;
}

// The callback form, because `timeout().emitWithAck()` loses the ack's type (socket.io#4925).
function tryJoin(socket: Tab, room: string, config?: Record<string, unknown>): Promise<Ack<JoinResult>> {
  return new Promise((done, fail) => {
    socket.timeout(WAIT_MS).emit('room:join', { room, config }, (err, result) => {
      if (err) fail(err);
      else done(result);
    });
  });
}

function relay(socket: Tab, to: string, data: unknown): Promise<Ack<null>> {
  return new Promise((done, fail) => {
    socket.timeout(WAIT_MS).emit('signal:relay', { to, data }, (err, result) => {
      if (err) fail(err);
      else done(result);
    });
  });
}

async function joined(socket: Tab, room: string, config?: Record<string, unknown>): Promise<JoinResult> {
  const result = await tryJoin(socket, room, config);
  assert.ok(result.ok, `join failed: ${JSON.stringify(result)}`);
  return result.data;
}

function errorOf(result: Ack<unknown>): ErrorPayload {
  assert.equal(result.ok, false, `expected an error, got ${JSON.stringify(result)}`);
  if (result.ok) throw new Error('unreachable');
  return result.error;
}

/** Any ack from `event` with `args`, typed loosely: the server must survive whatever comes. */
async function rawAck(socket: Tab, event: string, ...args: unknown[]): Promise<Ack<unknown>> {
  return (await raw(socket).timeout(WAIT_MS).emitWithAck(event, ...args)) as Ack<unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function httpGet(url: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((done, fail) => {
    // node:http sends the path as given, so `..` reaches the server unnormalized (unlike fetch).
    const req = request(`${url}${path}`, { path, timeout: WAIT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

test('assigns distinct, unguessable peer ids', LIMIT, async (t) => {
  const h = await harness(t);
  const a = await joined(await h.connect(), 'ids');
  const b = await joined(await h.connect(), 'ids');
  assert.match(a.peerId, /^[0-9a-f]{32}$/);
  assert.match(b.peerId, /^[0-9a-f]{32}$/);
  assert.notEqual(a.peerId, b.peerId);
  assert.deepEqual(b.members, [a.peerId, b.peerId].sort());
});

test('epoch grows on every join and leave and is broadcast with sorted members', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'epochs');
  assert.equal(a.epoch, 1);
  assert.deepEqual(a.members, [a.peerId]);

  const seenByA = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 2);
  const ownByB = next<MembersEvent>(tabB, 'room:members');
  const b = await joined(tabB, 'epochs');
  assert.equal(b.epoch, 2);
  const expected = { room: 'epochs', epoch: 2, members: [a.peerId, b.peerId].sort() };
  assert.deepEqual(await seenByA, expected);
  assert.deepEqual(await ownByB, expected, 'the joiner gets the broadcast too, after its ack');

  const afterLeave = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 3);
  tabB.emit('room:leave');
  assert.deepEqual(await afterLeave, { room: 'epochs', epoch: 3, members: [a.peerId] });
  assert.deepEqual(
    h.signaling.rooms().map(({ room, epoch, members }) => ({ room, epoch, members })),
    [{ room: 'epochs', epoch: 3, members: [a.peerId] }],
  );
});

test('the first joiner fixes the config; later joiners get it and theirs is ignored', LIMIT, async (t) => {
  const h = await harness(t, { defaultConfig: { ...DEFAULT_CONFIG, seed: 7 } });
  const a = await joined(await h.connect(), 'cfg', { steps: 300, compressor: 'topk', ratio: '0.05' });
  assert.equal(a.config.steps, 300);
  assert.equal(a.config.compressor, 'topk');
  assert.equal(a.config.ratio, 0.05);
  assert.equal(a.config.seed, 7, 'unset keys come from the server default');
  const b = await joined(await h.connect(), 'cfg', { steps: 5, compressor: 'qsgd', nonsense: true });
  assert.deepEqual(b.config, a.config);
  assert.deepEqual(h.signaling.rooms()[0]?.config, a.config);
});

test('an invalid config is a ConfigError and creates no room', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const error = errorOf(await tryJoin(tab, 'bad-cfg', { compressor: 'zip' }));
  assert.equal(error.name, 'ConfigError');
  assert.match(error.message, /compressor/);
  assert.deepEqual(h.signaling.rooms(), []);
  await joined(tab, 'bad-cfg', { steps: 10 });
});

test('signals are relayed only within the same room', LIMIT, async (t) => {
  const h = await harness(t);
  const [tabA, tabB, tabC] = [await h.connect(), await h.connect(), await h.connect()];
  const a = await joined(tabA, 'x');
  const b = await joined(tabB, 'x');
  const c = await joined(tabC, 'y');
  const atC = record<unknown>(tabC, 'signal');

  const offer = { type: 'offer', sdp: 'v=0\r\n' };
  const atB = next(tabB, 'signal');
  assert.deepEqual(await relay(tabA, b.peerId, offer), { ok: true, data: null });
  assert.deepEqual(await atB, { from: a.peerId, data: offer });

  assert.equal(errorOf(await relay(tabA, c.peerId, offer)).name, 'PeerNotFoundError');
  assert.equal(errorOf(await relay(tabA, 'f'.repeat(32), offer)).name, 'PeerNotFoundError');

  // Without an ack, the refusal comes back as server:error.
  const refused = next<ErrorPayload>(tabA, 'server:error');
  raw(tabA).emit('signal:relay', { to: c.peerId, data: offer });
  assert.equal((await refused).name, 'PeerNotFoundError');

  const outsider = await h.connect();
  assert.equal(errorOf(await relay(outsider, a.peerId, offer)).name, 'NotInRoomError');

  // C's socket is served in order, so a round trip of its own proves nothing was queued for it.
  await relay(tabC, c.peerId, {});
  assert.equal(atC.length, 1, 'C got only its own signal');
});

test('malformed payloads get errors and the server keeps working', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const peer = await joined(await h.connect(), 'ok');
  const badJoins: unknown[] = [
    null,
    42,
    'room',
    [],
    {},
    { room: '' },
    { room: 'no spaces' },
    { room: 'x'.repeat(65) },
    { room: 'x'.repeat(200_000) },
    { room: 'ok', name: 5 },
    { room: 'ok', name: 'n'.repeat(65) },
    { room: 'ok', config: [] },
    { room: 'ok', config: 'steps=5' },
  ];
  for (const payload of badJoins) {
    assert.equal(errorOf(await rawAck(tab, 'room:join', payload)).name, 'ValidationError', JSON.stringify(payload).slice(0, 40));
  }
  // The callback alone, with no payload.
  assert.equal(errorOf(await rawAck(tab, 'room:join')).name, 'ValidationError');

  await joined(tab, 'ok');
  const badRelays: unknown[] = [
    null,
    7,
    { data: {} },
    { to: peer.peerId },
    { to: 42, data: {} },
    { to: 'p'.repeat(1000), data: {} },
    { to: peer.peerId, data: 'candidate' },
    { to: peer.peerId, data: null },
    { to: peer.peerId, data: [1, 2] },
    { to: peer.peerId, data: { sdp: 's'.repeat(64 * 1024) } },
  ];
  for (const payload of badRelays) {
    assert.equal(errorOf(await rawAck(tab, 'signal:relay', payload)).name, 'ValidationError', JSON.stringify(payload).slice(0, 40));
  }
  // Just under the cap passes.
  const under = { sdp: 's'.repeat(64 * 1024 - 20) };
  assert.deepEqual(await rawAck(tab, 'signal:relay', { to: peer.peerId, data: under }), { ok: true, data: null });

  const noAck = next<ErrorPayload>(tab, 'server:error');
  raw(tab).emit('room:join', 'not an object');
  assert.equal((await noAck).name, 'ValidationError');

  const report = next<ErrorPayload>(tab, 'server:error');
  raw(tab).emit('room:report', { kind: 'gossip', text: 'hi' });
  assert.equal((await report).name, 'ValidationError');
  raw(tab).emit('room:report', { kind: 'status', text: 'step 1' });

  // Past maxHttpBufferSize the connection is dropped, not the server.
  const huge = await h.connect();
  const dropped = new Promise<void>((done) => {
    huge.once('disconnect', () => {
      done();
    });
  });
  raw(huge).emit('room:join', { room: 'r'.repeat(2_000_000) });
  await Promise.race([dropped, sleep(WAIT_MS).then(() => Promise.reject(new Error('oversize message not dropped')))]);

  const again = await joined(await h.connect(), 'ok');
  assert.equal(again.members.length, 3);
});

test('a flood of 2000 events is rate limited without crashing', LIMIT, async (t) => {
  const h = await harness(t);
  const tab = await h.connect();
  const notices = record<ErrorPayload>(tab, 'server:error');
  const first = next<ErrorPayload>(tab, 'server:error', (e) => e.name === 'RateLimitError');
  for (let i = 0; i < 2000; i++) tab.emit('room:leave');
  assert.match((await first).message, /dropped/);
  await sleep(300);
  assert.equal(notices.filter((e) => e.name === 'RateLimitError').length, 1, 'at most one notice per second');
  // The bucket refills: the same socket is served again.
  await joined(tab, 'after-flood');
  await joined(await h.connect(), 'after-flood');
});

test('a disconnect counts as a leave and an empty room is deleted', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'gone', { steps: 11 });
  await joined(tabB, 'gone');
  const afterDisconnect = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 3);
  tabB.disconnect();
  assert.deepEqual(await afterDisconnect, { room: 'gone', epoch: 3, members: [a.peerId] });

  tabA.emit('room:leave');
  // Events of one socket are handled in order: once this is refused, the leave is done.
  assert.equal(errorOf(await relay(tabA, a.peerId, {})).name, 'NotInRoomError');
  assert.deepEqual(h.signaling.rooms(), []);

  const fresh = await joined(tabA, 'gone', { steps: 22 });
  assert.equal(fresh.epoch, 1);
  assert.equal(fresh.config.steps, 22, 'a new run may bring a new config');
  assert.notEqual(fresh.peerId, a.peerId);
});

test('joining again leaves the old room first', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  await joined(tabA, 'one');
  const b = await joined(tabB, 'one');
  const seenByB = next<MembersEvent>(tabB, 'room:members', (e) => e.epoch === 3);
  const moved = await joined(tabA, 'two');
  assert.deepEqual(await seenByB, { room: 'one', epoch: 3, members: [b.peerId] });
  assert.deepEqual(moved.members, [moved.peerId]);
  assert.deepEqual(h.signaling.rooms().map((r) => r.room).sort(), ['one', 'two']);
});

test('caps on members per room and on rooms', LIMIT, async (t) => {
  const h = await harness(t, { maxMembersPerRoom: 2, maxRooms: 1 });
  await joined(await h.connect(), 'small');
  await joined(await h.connect(), 'small');
  assert.equal(errorOf(await tryJoin(await h.connect(), 'small')).name, 'RoomFullError');
  assert.equal(errorOf(await tryJoin(await h.connect(), 'other')).name, 'TooManyRoomsError');
});

test('serves the built client, 404s the rest and refuses traversal', LIMIT, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tabswarm-static-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>tabswarm</title>');
  await writeFile(join(dir, 'assets', 'app.js'), 'export {};');
  await writeFile(join(dir, 'assets', 'tfjs.wasm'), new Uint8Array([0, 97, 115, 109]));
  await writeFile(join(dir, 'train-images-idx3-ubyte'), new Uint8Array([0, 0, 8, 3]));
  const h = await harness(t, { staticDir: dir });

  const index = await httpGet(h.url, '/');
  assert.equal(index.status, 200);
  assert.equal(index.type, 'text/html; charset=utf-8');
  assert.match(index.body, /<title>tabswarm/);
  assert.equal((await httpGet(h.url, '/index.html?v=1')).status, 200);
  assert.equal((await httpGet(h.url, '/assets/app.js')).type, 'text/javascript; charset=utf-8');
  assert.equal((await httpGet(h.url, '/assets/tfjs.wasm')).type, 'application/wasm');
  assert.equal((await httpGet(h.url, '/train-images-idx3-ubyte')).type, 'application/octet-stream');
  assert.equal((await httpGet(h.url, '/missing.js')).status, 404);
  assert.equal((await httpGet(h.url, '/assets')).status, 404, 'directories are not files');
  for (const path of ['/../package.json', '/assets/../../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/%zz']) {
    assert.equal((await httpGet(h.url, path)).status, 400, path);
  }
});

test('without a built client, / says how to build it', LIMIT, async (t) => {
  const h = await harness(t, { staticDir: join(tmpdir(), 'tabswarm-does-not-exist') });
  const page = await httpGet(h.url, '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /npm run build/);
  assert.equal((await httpGet(h.url, '/app.js')).status, 404);
});

test('healthz reports the number of rooms', LIMIT, async (t) => {
  const h = await harness(t);
  assert.deepEqual(JSON.parse((await httpGet(h.url, '/healthz')).body), { ok: true, rooms: 0 });
  await joined(await h.connect(), 'health');
  const health = await httpGet(h.url, '/healthz');
  assert.equal(health.type, 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(health.body), { ok: true, rooms: 1 });
});

test('resync bumps the epoch once per failed epoch, with the same members', LIMIT, async (t) => {
  const h = await harness(t);
  const tabA = await h.connect();
  const tabB = await h.connect();
  const a = await joined(tabA, 'resync');
  const b = await joined(tabB, 'resync');
  assert.equal(b.epoch, 2);
  const seen = record<MembersEvent>(tabA, 'room:members');
  // Both members report the failure of epoch 2; a stale report about epoch 1 changes nothing.
  assert.deepEqual(await rawAck(tabA, 'room:resync', { epoch: 2 }), { ok: true, data: null });
  assert.deepEqual(await rawAck(tabB, 'room:resync', { epoch: 2 }), { ok: true, data: null });
  assert.deepEqual(await rawAck(tabB, 'room:resync', { epoch: 1 }), { ok: true, data: null });
  await sleep(100);
  assert.deepEqual(seen.filter((e) => e.epoch > 2), [{ room: 'resync', epoch: 3, members: [a.peerId, b.peerId].sort() }]);
  assert.equal(errorOf(await rawAck(tabA, 'room:resync', { epoch: -1 })).name, 'ValidationError');
  const outsider = await h.connect();
  assert.equal(errorOf(await rawAck(outsider, 'room:resync', { epoch: 3 })).name, 'NotInRoomError');
});

test('a member blamed by the majority in evictAfter failed epochs in a row is evicted and may rejoin', LIMIT, async (t) => {
  const h = await harness(t, { evictAfter: 2 });
  const tabs = [await h.connect(), await h.connect(), await h.connect()];
  const ids: string[] = [];
  for (const tab of tabs) ids.push((await joined(tab, 'evict')).peerId);
  const [a, b, c] = ids as [string, string, string];
  const [tabA, tabB, tabC] = tabs as [Tab, Tab, Tab];
  const evicted = next<{ room: string; reason: string }>(tabC, 'room:evicted');
  // Epoch 3 fails: the first report starts epoch 4 at once, the others only vote.
  const fourth = next<MembersEvent>(tabA, 'room:members', (e) => e.epoch === 4);
  await rawAck(tabA, 'room:resync', { epoch: 3, suspect: c });
  assert.deepEqual((await fourth).members, [a, b, c].sort());
  await rawAck(tabB, 'room:resync', { epoch: 3, suspect: c });
  await rawAck(tabC, 'room:resync', { epoch: 3, suspect: a }); // the culprit blames someone else
  // Epoch 4 fails the same way: the majority blamed c twice in a row, so c goes.
  await rawAck(tabC, 'room:resync', { epoch: 4, suspect: b });
  await rawAck(tabA, 'room:resync', { epoch: 4, suspect: c });
  const without = next<MembersEvent>(tabA, 'room:members', (e) => !e.members.includes(c));
  await rawAck(tabB, 'room:resync', { epoch: 4, suspect: c });
  assert.deepEqual((await without).members, [a, b].sort());
  assert.equal((await evicted).room, 'evict');
  const again = await joined(tabC, 'evict');
  assert.notEqual(again.peerId, c);
  assert.equal(again.members.length, 3);
});

test('no eviction without a majority, nor when the blame moves', LIMIT, async (t) => {
  const h = await harness(t, { evictAfter: 2 });
  const tabs = [await h.connect(), await h.connect()];
  const ids: string[] = [];
  for (const tab of tabs) ids.push((await joined(tab, 'nomajority')).peerId);
  const [a, b] = ids as [string, string];
  // Two members blame each other: one vote each, never a majority.
  for (const epoch of [2, 3, 4]) {
    await rawAck(tabs[0]!, 'room:resync', { epoch, suspect: b });
    await rawAck(tabs[1]!, 'room:resync', { epoch, suspect: a });
  }
  await sleep(100);
  assert.deepEqual(h.signaling.rooms()[0]!.members, [a, b].sort());
  assert.equal(h.signaling.rooms()[0]!.epoch, 5);
});
