/**
 * The CLI's ICE flags, end to end: `--stun`, `--turn` with the secret from TURN_SECRET and
 * `--turn-ttl` reach the join ack; a TURN server without a secret is a usage error.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, JoinResult, ServerToClientEvents } from '@tabswarm/shared/protocol';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const LIMIT = { timeout: 30_000 };
const START_MS = 20_000;

/** The CLI with `args`; TURN_SECRET only if `secret` is given. */
function cli(args: string[], secret?: string): ChildProcess {
  const { TURN_SECRET: _, ...env } = process.env;
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: secret === undefined ? env : { ...env, TURN_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Everything the process prints until it prints `pattern` (null: until it exits), within START_MS. */
function output(child: ChildProcess, pattern: RegExp | null): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${START_MS} ms: ${text}`)), START_MS);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (pattern?.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

test('a TURN server without its secret is a usage error', LIMIT, async () => {
  const child = cli(['--port', '0', '--turn', 'turn:turn.example.org:3478']);
  const [text, code] = await Promise.all([output(child, null), new Promise((resolve) => child.once('exit', resolve))]);
  assert.equal(code, 1);
  assert.match(text, /--turn needs --turn-secret/);
});

test('--stun, --turn, TURN_SECRET and --turn-ttl reach the join ack; the secret does not', LIMIT, async (t) => {
  const secret = 'cli-secret-91c';
  const child = cli(['--port', '0', '--host', '127.0.0.1', '--stun', 'stun:a.example.org:3478', '--stun', 'stun:b.example.org:3478', '--turn', 'turn:t.example.org:3478', '--turn-ttl', '120'], secret);
  t.after(() => child.kill('SIGKILL'));
  const text = await output(child, /ICE servers handed to tabs.*\n/);
  const url = /signaling server on (http:\/\/\S+)/.exec(text)?.[1];
  assert.ok(url, text);
  assert.ok(!text.includes(secret), 'the secret is not printed');
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  t.after(() => socket.disconnect());
  const ack = await new Promise<Ack<JoinResult>>((resolve, reject) => {
    socket.timeout(5000).emit('room:join', { room: 'cli' }, (err, result) => (err ? reject(err) : resolve(result)));
  });
  assert.ok(ack.ok, JSON.stringify(ack));
  const [stun, turn] = ack.data.iceServers;
  assert.deepEqual(stun, { urls: ['stun:a.example.org:3478', 'stun:b.example.org:3478'] });
  assert.deepEqual(turn?.urls, ['turn:t.example.org:3478']);
  const expiry = Number(turn?.username?.split(':')[0]);
  assert.ok(Math.abs(expiry - (Date.now() / 1000 + 120)) < 10, `expiry ${expiry} is about now + 120 s`);
  assert.equal(turn?.username?.split(':')[1], ack.data.peerId);
  assert.ok(!JSON.stringify(ack).includes(secret));
});
