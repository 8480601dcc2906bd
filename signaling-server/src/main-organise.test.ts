/**
 * The CLI's organiser flags, end to end: `--room lab` with run configuration keys opens the room
 * with that configuration, `--open-rooms false` refuses others, and the organiser page takes the
 * random token the server prints (or the one given, which it does not print).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import { DEFAULT_CONFIG, ORGANISE_API, type Ack, type ClientToServerEvents, type JoinResult, type OrganiserRooms, type ServerToClientEvents } from '@tabswarm/shared/protocol';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const LIMIT = { timeout: 30_000 };
const START_MS = 20_000;

function cli(args: string[]): ChildProcess {
  const { TABSWARM_ADMIN_TOKEN: _, ...env } = process.env;
  return spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--host', '127.0.0.1', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What the process prints until `pattern` matches, within START_MS. */
function output(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${START_MS} ms: ${text}`)), START_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

function join(url: string, room: string, config: Record<string, unknown>): Promise<Ack<JoinResult>> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise<Ack<JoinResult>>((resolve, reject) => {
    socket.timeout(5000).emit('room:join', { room, config }, (err, result) => (err ? reject(err) : resolve(result)));
  }).finally(() => socket.disconnect());
}

function rooms(url: string, password: string): Promise<Response> {
  return fetch(`${url}${ORGANISE_API.rooms}`, { headers: { authorization: `Basic ${Buffer.from(`o:${password}`).toString('base64')}` }, signal: AbortSignal.timeout(5000) });
}

test('--room with config keys opens an organised room; --open-rooms false refuses others; the printed token opens the page', LIMIT, async (t) => {
  const child = cli(['--room', 'lab', '--model', 'cnn', '--steps', '2000', '--compressor', 'powersgd', '--open-rooms', 'false']);
  t.after(() => child.kill('SIGKILL'));
  const text = await output(child, /organiser page: .*\n/);
  const url = /signaling server on (http:\/\/\S+)/.exec(text)?.[1];
  const token = /organiser page: \S+\/organise, password ([0-9a-f]{32})"/.exec(text)?.[1];
  assert.ok(url && token, text);
  assert.match(text, /organised room lab: http:\/\/127\.0\.0\.1:\d+\/\?room=lab/);

  const lab = await join(url, 'lab', { model: 'mlp', compressor: 'none' });
  assert.ok(lab.ok, JSON.stringify(lab));
  assert.equal(lab.data.organised, true);
  assert.deepEqual([lab.data.config.model, lab.data.config.steps, lab.data.config.compressor], ['cnn', 2000, 'powersgd']);
  const other = await join(url, 'other', {});
  assert.equal(other.ok ? 'joined' : other.error.name, 'UnknownRoomError');

  assert.equal((await rooms(url, 'not-the-token-at-all')).status, 401);
  const listed = await rooms(url, token);
  assert.equal(listed.status, 200);
  assert.deepEqual(((await listed.json()) as OrganiserRooms).rooms.map((r) => [r.room, r.organised]), [['lab', true]]);
});

test('a given admin token is not printed', LIMIT, async (t) => {
  const token = 'given-token-of-the-organiser';
  const child = cli(['--admin-token', token]);
  t.after(() => child.kill('SIGKILL'));
  const text = await output(child, /organiser page: .*\n/);
  assert.ok(!text.includes(token));
  assert.match(text, /password: the admin token given/);
});

test('--rooms-file opens the rooms it keeps, with their configuration', LIMIT, async (t) => {
  const file = joinPath(mkdtempSync(joinPath(tmpdir(), 'tabswarm-rooms-')), 'rooms.json');
  writeFileSync(file, JSON.stringify({ rooms: [{ room: 'kept', config: { ...DEFAULT_CONFIG, steps: 42 } }] }));
  const child = cli(['--rooms-file', file, '--open-rooms', 'false']);
  t.after(() => child.kill('SIGKILL'));
  const text = await output(child, /organised room kept: .*\n/);
  const url = /signaling server on (http:\/\/\S+)/.exec(text)?.[1];
  assert.ok(url, text);
  const kept = await join(url, 'kept', { steps: 5 });
  assert.ok(kept.ok, JSON.stringify(kept));
  assert.deepEqual([kept.data.organised, kept.data.config.steps], [true, 42]);
});
