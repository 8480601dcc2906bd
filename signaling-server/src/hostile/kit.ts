/**
 * What the hostile-client suite shares: a server that trusts X-Forwarded-For, so that sockets of
 * one test process can come from different client addresses, and ways to count what came back.
 */
import type { TestContext } from 'node:test';
import { harness, type Harness, type Tab } from '../testing.ts';
import type { SignalingOptions } from '../server.ts';

export const ATTACKER = '203.0.113.66';
export const HONEST = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'] as const;

export interface Arena extends Harness {
  /** A socket from `address`. */
  from(address: string, headers?: Record<string, string>): Promise<Tab>;
}

export async function arena(t: TestContext, options: SignalingOptions = {}): Promise<Arena> {
  const h = await harness(t, { trustProxy: true, ...options });
  return { ...h, from: (address, headers = {}) => h.connect({ 'x-forwarded-for': address, ...headers }) };
}

/** Resolves when `socket` is disconnected, or with false after `ms`. */
export function disconnected(socket: Tab, ms: number): Promise<boolean> {
  if (!socket.connected) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    socket.once('disconnect', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

/** One sample of `name{labels}` from a Prometheus text exposition, or undefined. */
export function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
