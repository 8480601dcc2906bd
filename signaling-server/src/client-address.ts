/**
 * Which client a request comes from, for the limits per address. Behind a reverse proxy every
 * connection comes from the proxy, so with `trustProxy` the last address of X-Forwarded-For (the
 * one the proxy appended) is the client's; never trust that header from the open internet.
 */
import type { IncomingMessage } from 'node:http';

export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
    if (last) return normalize(last);
  }
  return normalize(req.socket.remoteAddress ?? 'unknown');
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; one client, one address. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
