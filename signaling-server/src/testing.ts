/**
 * Test support for the signaling server (Node-only, `@tabswarm/signaling-server/testing`): a quiet
 * server on a free port closed after the test, and socket.io clients that speak the protocol, or
 * anything a misbehaving client could send.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ErrorPayload, JoinResult, RejoinRequest, RejoinResult, ServerToClientEvents } from '@tabswarm/shared/protocol';
import { listenSignalingServer } from './listen.ts';
import type { Logger, SignalingOptions, SignalingServer } from './server.ts';

export type Tab = Socket<ServerToClientEvents, ClientToServerEvents>;
/** The same socket without the event map, to send what a misbehaving client could. */
export type RawTab = Socket;

export const WAIT_MS = 2000;
/** A deadline for each test as a whole, over the per-wait ones. */
export const LIMIT = { timeout: 15_000 };
export const silent: Logger = {
  info() {},
  error() {},
};

export interface Harness {
  url: string;
  signaling: SignalingServer;
  /** A socket, with extra handshake headers if given (e.g. `origin`, or `x-forwarded-for` for a server that trusts a proxy). */
  connect(headers?: Record<string, string>): Promise<Tab>;
}

/**
 * A server on an ephemeral port; it and every socket it hands out are closed after the test. A lone
 * failure report starts the next epoch without waiting for a second (soloResyncMs 0) unless the
 * test asks otherwise: that wait has tests of its own.
 */
export async function harness(t: TestContext, options: SignalingOptions = {}): Promise<Harness> {
  const server = await listenSignalingServer({ log: silent, staticDir: join(tmpdir(), 'tabswarm-no-such-dir'), soloResyncMs: 0, ...options });
  const { url, signaling } = server;
  const sockets: Tab[] = [];
  t.after(async () => {
    for (const socket of sockets) socket.disconnect();
    await server.close();
  });
  return {
    url,
    signaling,
    async connect(headers) {
      const socket: Tab = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(headers ? { extraHeaders: headers } : {}) });
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

export function raw(socket: Tab): RawTab {
  return socket;
}

/** Resolves with the next `event` satisfying `match`, or rejects after `ms`. */
export function next<T>(socket: Tab, event: keyof ServerToClientEvents, match: (value: T) => boolean = () => true, ms = WAIT_MS): Promise<T> {
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
export function record<T>(socket: Tab, event: keyof ServerToClientEvents): T[] {
  const seen: T[] = [];
  raw(socket).on(event, (value: T) => {
    seen.push(value);
  });
  return seen;
}

// The callback form, because `timeout().emitWithAck()` loses the ack's type (socket.io#4925).
export function tryJoin(socket: Tab, room: string, config?: Record<string, unknown>): Promise<Ack<JoinResult>> {
  return new Promise((done, fail) => {
    socket.timeout(WAIT_MS).emit('room:join', { room, config }, (err, result) => {
      if (err) fail(err);
      else done(result);
    });
  });
}

/** Sends `room:rejoin`; the answer may wait for a rebuild, hence `ms`. */
export function tryRejoin(socket: Tab, request: RejoinRequest, ms = WAIT_MS): Promise<Ack<RejoinResult>> {
  return new Promise((done, fail) => {
    socket.timeout(ms).emit('room:rejoin', request, (err, result) => {
      if (err) fail(err);
      else done(result);
    });
  });
}

export function relay(socket: Tab, to: string, data: unknown): Promise<Ack<null>> {
  return new Promise((done, fail) => {
    socket.timeout(WAIT_MS).emit('signal:relay', { to, data }, (err, result) => {
      if (err) fail(err);
      else done(result);
    });
  });
}

export async function joined(socket: Tab, room: string, config?: Record<string, unknown>): Promise<JoinResult> {
  const result = await tryJoin(socket, room, config);
  assert.ok(result.ok, `join failed: ${JSON.stringify(result)}`);
  return result.data;
}

export function errorOf(result: Ack<unknown>): ErrorPayload {
  assert.equal(result.ok, false, `expected an error, got ${JSON.stringify(result)}`);
  if (result.ok) throw new Error('unreachable');
  return result.error;
}

/** Any ack from `event` with `args`, typed loosely: the server must survive whatever comes. */
export async function rawAck(socket: Tab, event: string, ...args: unknown[]): Promise<Ack<unknown>> {
  return (await raw(socket).timeout(WAIT_MS).emitWithAck(event, ...args)) as Ack<unknown>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export function httpGet(url: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
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
