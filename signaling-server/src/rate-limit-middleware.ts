/**
 * Event budgets: per socket, and per client address in events and bytes (address-budget.ts).
 * Events past a budget are dropped without an answer (a flooding client gets no ack), and the
 * socket hears a RateLimitError notice at most once per NOTICE_MS; the log says so at most as
 * often, so a flood cannot flood the log either.
 */
import { ConfigError } from '@tabswarm/shared/protocol';
import type { AddressBudgets } from './address-budget.ts';
import type { Connection } from './connection.ts';
import { TokenBucket } from './rate-limit.ts';

/** At most one RateLimitError notice per socket per this many milliseconds. */
const NOTICE_MS = 1000;

export interface RateLimit {
  /** Events at once. */
  burst: number;
  /** Events per second, sustained. */
  perSecond: number;
}

export function checkBudget(name: string, limit: RateLimit): RateLimit {
  for (const [key, value] of [['burst', limit.burst], ['perSecond', limit.perSecond]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name}.${key} must be a positive integer, got ${value}`);
  }
  return limit;
}

/** Checks `limit` once; the returned function installs it (and the address's budgets) on a connection. */
export function rateLimiter(limit: RateLimit, addresses: AddressBudgets): (conn: Connection) => void {
  const { burst, perSecond } = checkBudget('rateLimit', limit);
  return (conn) => {
    const bucket = new TokenBucket(burst, perSecond);
    // The size of the packet being decoded: engine.io hands it over before socket.io decodes it.
    let packetBytes = 0;
    conn.socket.conn.on('packet', (packet: { data?: unknown }) => {
      packetBytes = typeof packet.data === 'string' ? packet.data.length : 0;
    });
    let dropped = 0;
    let lastNotice = -Infinity;
    conn.socket.use((_packet, next) => {
      const spent = !bucket.take() ? 'socket_events' : addresses.take(conn.address, packetBytes);
      if (spent === undefined) return next();
      conn.server.metrics.reject(spent);
      dropped += 1;
      const now = performance.now();
      if (now - lastNotice < NOTICE_MS) return;
      lastNotice = now;
      const message = `too many events: ${dropped} dropped (${spent === 'socket_events' ? `limit ${perSecond}/s, burst ${burst} per socket` : `this address's ${spent === 'address_events' ? 'event' : 'byte'} budget is spent`})`;
      conn.server.log.error(`error ${conn.who()} RateLimitError: ${message}`, { event: 'rate-limit', address: conn.address, budget: spent });
      conn.socket.emit('server:error', { name: 'RateLimitError', message });
      dropped = 0;
    });
  };
}
