/**
 * Per-socket event budget: events past it are dropped without an answer (a flooding client gets
 * no ack), and the socket hears a RateLimitError notice at most once per NOTICE_MS.
 */
import { ConfigError } from '@tabswarm/shared/protocol';
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

/** Checks `limit` once; the returned function installs it on a connection. */
export function rateLimiter(limit: RateLimit): (conn: Connection) => void {
  const { burst, perSecond } = limit;
  for (const [name, value] of [['rateLimit.burst', burst], ['rateLimit.perSecond', perSecond]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${value}`);
  }
  return (conn) => {
    const bucket = new TokenBucket(burst, perSecond);
    let dropped = 0;
    let lastNotice = -Infinity;
    conn.socket.use((_packet, next) => {
      if (bucket.take()) return next();
      dropped += 1;
      const now = performance.now();
      if (now - lastNotice < NOTICE_MS) return;
      lastNotice = now;
      const message = `too many events: ${dropped} dropped (limit ${perSecond}/s, burst ${burst})`;
      conn.server.log.error(`error ${conn.who()} RateLimitError: ${message}`);
      conn.socket.emit('server:error', { name: 'RateLimitError', message });
      dropped = 0;
    });
  };
}
